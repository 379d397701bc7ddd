#pragma once
// Call: one request being answered. The router (Api) makes it, fills the identity and path
// segments, and hands it to a handler; every async step of the request shares it; Replier
// answers it exactly once.
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <wisp/common/identity.hpp>
#include <wisp/controller/http.hpp>

namespace wisp::controller {

struct Call {
    HttpRequest req;
    std::string tid;
    int64_t received_ms = 0;
    int64_t received_mono_ns = 0;
    Responder responder;
    std::atomic<bool> answered{false};
    std::optional<common::Identity> identity;  // set once authenticated
    std::vector<std::string> segs;             // path segments after /api/v1/namespaces/
};
using CallPtr = std::shared_ptr<Call>;

}  // namespace wisp::controller
