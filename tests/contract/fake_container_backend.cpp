// The ContainerFactory contract suite on the test fake (<wisp/testing/fake_container.hpp>): one
// image exists; its handler plays the contract action (echo the value, print one line per stream).
#include <atomic>
#include <memory>
#include <string>

#include <rapidjson/document.h>

#include <wisp/common/json.hpp>
#include <wisp/testing/fake_container.hpp>

#include "container_backend.hpp"

namespace wisp::contract {

namespace {

constexpr const char* kImage = "wisp-test/fake-echo:contract";

std::unique_ptr<invoker::testing::FakeContainerFactory> MakeFactory() {
    auto factory = std::make_unique<invoker::testing::FakeContainerFactory>();
    factory->set_images({kImage});
    factory->set_handler(
        [](invoker::testing::FakeContainer&, std::string_view path, const std::string& body) {
            invoker::testing::FakeReply reply =
                invoker::testing::FakeContainerFactory::DefaultReply(path, body);
            if (path != "/run") return reply;
            rapidjson::Document d;
            std::string name;
            if (common::ParseJson(body, d).ok() && d.IsObject() && d.HasMember("value") &&
                d["value"].IsObject() && d["value"].HasMember("name") &&
                d["value"]["name"].IsString()) {
                name = d["value"]["name"].GetString();
            }
            const std::string now = "2024-01-01T00:00:00.000000000Z";
            reply.logs = {{now, "stdout", "out " + name}, {now, "stderr", "err " + name}};
            return reply;
        });
    return factory;
}

}  // namespace

invoker::ContainerFactory& Factory() {
    static const auto factory = MakeFactory();
    return *factory;
}

BackendTraits Traits() { return {}; }

std::string BackendName() { return "fake"; }

std::string ActionImage() { return kImage; }

std::string MissingImage() { return "wisp-test/no-such-image:contract"; }

std::string EchoActionInit() {
    return R"({"value":{"name":"echo","main":"main","binary":false,"code":"echo","env":{}}})";
}

std::string FreshInvokerId() {
    static std::atomic<int> seq{0};
    return "contract-fake-" + std::to_string(++seq);
}

}  // namespace wisp::contract
