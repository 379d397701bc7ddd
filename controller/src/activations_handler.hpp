#pragma once
// ActivationsHandler: GET /api/v1/namespaces/{ns}/activations[/{id}[/result|/logs]] (wire §1.8):
// the list with its filters (limit, skip, since, upto, name, docs, count), one record, its
// result, its logs. Read-only over the store; the caller's own namespace only.
#include <string>
#include <vector>

#include <wisp/store/artifact_store.hpp>

#include "call.hpp"
#include "replier.hpp"

namespace wisp::controller {

class ActivationsHandler {
  public:
    ActivationsHandler(store::ArtifactStore& store, Replier& replier)
        : store_(store), replier_(replier) {}

    /// `ns` is the path's namespace (`_` already resolved); `rest` the segments after
    /// "activations". Answers 405 to anything but GET and HEAD.
    void Handle(const CallPtr& call, const std::string& ns, const std::vector<std::string>& rest);

  private:
    store::ArtifactStore& store_;
    Replier& replier_;
};

}  // namespace wisp::controller
