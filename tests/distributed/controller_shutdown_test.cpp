// wisp-controller's shutdown when the bus does not answer: the dev Kafka broker stopped
// (SIGTERM) or stalled (SIGSTOP: connections open, no answers, as a broker that hangs), then
// SIGTERM to the controller once one of its heartbeats failed (the next one then waits in the
// producer's queue). It must exit 0 within 15 s and log "stopped". Before the bounded
// closes each close of a producer flushed the shared librdkafka client, whose queue the
// component claim's heartbeats (one a second) kept from ever being empty: the balancer's and the
// cache invalidation's closes waited the whole send timeout (10 s) each and the goodbye up to
// 10 s more (29-32 s measured; tools/local-cluster.sh SIGKILLs a controller after 30 s). A third
// case checks the goodbye still goes out with the broker up.
//
// Needs only wisp-kafka-dev-broker and wisp-controller (SQLite store, no invoker, no Docker).
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/common/strings.hpp>
#include <wisp/testing/child_process.hpp>
#include <wisp/testing/ports.hpp>
#include <wisp/testing/temp_dir.hpp>

#include "cluster_binaries.hpp"

using namespace wisp;
using namespace std::chrono_literals;
using testing::Binary;
using testing::FreePort;

namespace {

// Generous for a loaded 2-core CI machine; the bounded shutdown takes about 3 s (one close
// timeout) with the broker gone, the unbounded one took 29-32 s.
constexpr auto kStopBound = 15s;

struct BrokerAndController {
    testing::TempDir dir{"wisp-controller-shutdown-"};
    int broker_port = FreePort();
    int controller_port = FreePort();
    std::unique_ptr<testing::ChildProcess> broker;
    std::unique_ptr<testing::ChildProcess> controller;

    BrokerAndController() {
        auto b = testing::ChildProcess::Spawn(
            {.argv = {Binary("WISP_KAFKA_DEV_BROKER", "wisp-kafka-dev-broker"), "--port",
                      std::to_string(broker_port)},
             .log_path = dir.File("broker.log")});
        REQUIRE(b.ok());
        broker = std::move(*b);
        REQUIRE(broker->WaitForPort(broker_port, 30s).ok());
        auto c = testing::ChildProcess::Spawn(
            {.argv = {Binary("WISP_CONTROLLER", "wisp-controller"), "--id", "0", "--kafka",
                      common::Cat("127.0.0.1:", broker_port), "--kafka-fetch-wait-ms", "5",
                      "--topic-prefix", "shutdown_", "--store",
                      common::Cat("sqlite:", dir.File("wisp.db")), "--port",
                      std::to_string(controller_port)},
             .log_path = dir.File("controller.log")});
        REQUIRE(c.ok());
        controller = std::move(*c);
        auto up = controller->WaitForPort(controller_port, 60s);
        INFO(controller->LogTail());
        REQUIRE(up.ok());
    }

    ~BrokerAndController() {
        if (controller) controller->Stop();
        if (broker) {
            ::kill(broker->pid(), SIGCONT);  // a stalled broker must see its SIGTERM
            broker->Stop();
        }
    }

    /// Polls the controller's log (another process's output) until it holds `text`.
    bool WaitForLog(const std::string& text, std::chrono::seconds timeout) const {
        const auto until = std::chrono::steady_clock::now() + timeout;
        while (controller->LogTail(1 << 20).find(text) == std::string::npos) {
            if (std::chrono::steady_clock::now() > until || !controller->Running()) return false;
            std::this_thread::sleep_for(100ms);  // polling another process's log
        }
        return true;
    }

    /// Waits until a heartbeat of the controller's id claim failed (the bus's send timeout, 10 s,
    /// after the broker went away): the next one is sent at once and waits in the shared
    /// producer's queue, as the heartbeats of a controller whose broker stopped answering do.
    void WaitForFailedHeartbeat() const {
        INFO(controller->LogTail());
        REQUIRE(WaitForLog("sending a heartbeat failed", 60s));
    }

    /// SIGTERM to the controller; how long until it exited (SIGKILL after 60 s).
    std::chrono::milliseconds StopController() {
        const auto started = std::chrono::steady_clock::now();
        controller->Stop(60s);
        return std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - started);
    }

    /// Checks the controller exited 0 within kStopBound after logging "stopped".
    void CheckStoppedInTime(std::chrono::milliseconds took) const {
        const std::string log = controller->LogTail(16384);
        INFO("controller log:\n" << log);
        INFO("the controller took " << took.count() << " ms to stop");
        CHECK(took < kStopBound);
        const int status = controller->exit_status();
        REQUIRE(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
        CHECK(log.find("] stopped") != std::string::npos);
    }
};

}  // namespace

TEST_CASE("controller shutdown: SIGTERM with the Kafka broker gone exits within the bound",
          "[controller][shutdown]") {
    BrokerAndController c;
    c.broker->Stop();  // SIGTERM; the dev broker exits at once
    c.WaitForFailedHeartbeat();
    const auto took = c.StopController();
    c.CheckStoppedInTime(took);
}

TEST_CASE("controller shutdown: SIGTERM with the Kafka broker stalled exits within the bound",
          "[controller][shutdown]") {
    BrokerAndController c;
    REQUIRE(::kill(c.broker->pid(), SIGSTOP) == 0);
    c.WaitForFailedHeartbeat();
    const auto took = c.StopController();
    c.CheckStoppedInTime(took);
}

TEST_CASE("controller shutdown: with the broker up the goodbye is sent and nothing waits",
          "[controller][shutdown]") {
    BrokerAndController c;
    const auto took = c.StopController();
    c.CheckStoppedInTime(took);
    const std::string log = c.controller->LogTail(16384);
    INFO(log);
    CHECK(log.find("goodbye") == std::string::npos);  // neither "failed" nor "no goodbye"
    CHECK(log.find("not acknowledged") == std::string::npos);
}
