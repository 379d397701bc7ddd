// wisp-admin: the wskadmin equivalent (see admin/README.md).
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <wisp/admin/admin.hpp>
#include <wisp/messaging/kafka_messaging_provider.hpp>
#include <wisp/store/open_store.hpp>

namespace {

// --kafka: the deployment's bus, for announcing key changes (admin/README.md).
[[nodiscard]] absl::StatusOr<std::unique_ptr<wisp::messaging::MessagingProvider>> OpenKafka(
    const wisp::admin::BusOptions& options) {
    wisp::messaging::KafkaConfig cfg;
    cfg.bootstrap_servers = options.bootstrap;
    cfg.topic_prefix = options.topic_prefix;
    cfg.client_id = "wisp-admin";
    auto bus = wisp::messaging::KafkaMessagingProvider::Create(std::move(cfg));
    if (!bus.ok()) return bus.status();
    if (auto st = (*bus)->CheckConnection(std::chrono::seconds(10)); !st.ok()) return st;
    return std::unique_ptr<wisp::messaging::MessagingProvider>(std::move(*bus));
}

}  // namespace

int main(int argc, char** argv) {
    // stdout carries only command results (keys, limits); store warnings such as CouchDB
    // retries go to stderr.
    auto logger = spdlog::stderr_color_mt("wisp-admin");
    logger->set_level(spdlog::level::warn);
    spdlog::set_default_logger(logger);

    std::vector<std::string> args(argv, argv + argc);
    const int rc = wisp::admin::RunAdmin(args, std::cout, std::cerr, wisp::store::OpenArtifactStore,
                                         OpenKafka);
    std::cout.flush();
    return rc;
}
