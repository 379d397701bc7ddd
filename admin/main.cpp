// wisp-admin: the wskadmin equivalent (see admin/README.md).
#include <iostream>
#include <string>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <wisp/admin/admin.hpp>
#include <wisp/store/open_store.hpp>

int main(int argc, char** argv) {
    // stdout carries only command results (keys, limits); store warnings such as CouchDB
    // retries go to stderr.
    auto logger = spdlog::stderr_color_mt("wisp-admin");
    logger->set_level(spdlog::level::warn);
    spdlog::set_default_logger(logger);

    std::vector<std::string> args(argv, argv + argc);
    const int rc =
        wisp::admin::RunAdmin(args, std::cout, std::cerr, wisp::store::OpenArtifactStore);
    std::cout.flush();
    return rc;
}
