#pragma once
// ProcessContainerFactory: "containers" that are host processes running the real
// wisp-action-proxy (runtimes/proxy) on a free loopback port, for invoker integration tests
// without Docker.
//
//   image wisp/action-python:* -> --kind python (host python3 + runtimes/python/launcher.py)
//   image wisp/action-nodejs:* -> --kind nodejs (host node + runtimes/nodejs/launcher.js)
//   image wisp/action-native:* -> --kind native
//   pause / resume              -> SIGSTOP / SIGCONT to the process group
//   destroy                     -> SIGKILL to the process group
//   logs                        -> stdout/stderr read by a thread, time-stamped per line (like
//                                  docker's json-file), also written to <dir>/log
//   orphans                     -> <work_dir>/orphans/<invoker id>/<pgid> marker files
//
// Each container lives in <work_dir>/<name>/ (action dir, port file, log). Thread-safe.
// Link wisp::invoker into the test that uses this (the library only carries the object).
#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <absl/status/statusor.h>

#include <wisp/invoker/container.hpp>
#include <wisp/invoker/proxy_client.hpp>

namespace wisp::testing {

struct ProcessContainerOptions {
    /// The wisp-action-proxy binary; empty = $WISP_ACTION_PROXY.
    std::string proxy_binary;
    /// runtimes/ (for the launchers); empty = $WISP_RUNTIMES_DIR.
    std::string runtimes_dir;
    /// Where container folders go (must exist).
    std::string work_dir;
    /// Talk to the proxy over a unix socket in the container folder instead of TCP.
    bool use_unix_socket = false;
    /// Kill the processes this factory started when it is destroyed (false: leave them, like
    /// docker containers outliving a crashed invoker; the orphan test uses that).
    bool kill_on_destruction = true;
};

class ProcessContainer;

class ProcessContainerFactory final : public invoker::ContainerFactory {
  public:
    explicit ProcessContainerFactory(ProcessContainerOptions options);
    ~ProcessContainerFactory() override;

    [[nodiscard]] absl::StatusOr<std::unique_ptr<invoker::Container>> Create(
        const invoker::ContainerSpec& spec) override;
    [[nodiscard]] absl::StatusOr<int> RemoveOrphans(std::string_view invoker_id) override;
    [[nodiscard]] absl::StatusOr<bool> ImageExists(std::string_view image) override;

    /// Containers created so far.
    int creates() const { return creates_.load(); }
    /// Process group id of a container by id (0 when unknown).
    pid_t PidOf(const std::string& container_id) const;
    /// Process group ids of the containers not destroyed yet.
    std::vector<pid_t> pids() const;

  private:
    struct Process;
    ProcessContainerOptions options_;
    std::atomic<int> creates_{0};
    mutable std::mutex mu_;
    std::vector<std::shared_ptr<Process>> processes_;
    friend class ProcessContainer;
};

/// True when process `pid` exists and is stopped (state 'T' in /proc/<pid>/stat).
bool ProcessIsStopped(pid_t pid);
/// True when process `pid` exists (and is not a zombie).
bool ProcessIsAlive(pid_t pid);
/// Sends `sig` to `root`, its process group and every process below it (the proxy starts its
/// launcher in a process group of its own). The fake Kubernetes API server kills pods with it.
void SignalProcessTree(pid_t root, int sig);
/// The wisp-action-proxy --kind for a runtime image ("python", "nodejs" or "native", from its
/// name: ".../action-python-v3.11:tag" -> "python"), or empty when the proxy cannot run it.
std::string ProxyKindForImage(std::string_view image);

}  // namespace wisp::testing
