#pragma once
// The tests of the distributed topology that run tools/local-cluster.sh (label distributed):
// the cluster itself (up in the constructor, down in the destructor), shell helpers, the
// expected GET /invokers answer, the invoker a record ran on, sharding homes, and a paced load
// generator over the controllers and nginx. Catch2 assertions (REQUIRE/CHECK) report set-up
// failures in the calling test; call these from the test thread only (Load's own threads
// assert nothing).
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <wisp/testing/temp_dir.hpp>

#include "standalone_harness.hpp"

namespace wisp::e2e {

// ---- shell and files (RunShell, ShellQuote, LineValue, ReadFile: standalone_harness.hpp) ------

/// The space-separated words of `s` (empty ones skipped).
std::vector<std::string> Words(const std::string& s);
/// Writes `text` to `path` (truncating); false on any error.
bool WriteFile(const std::string& path, const std::string& text);
/// "/api/v1/namespaces/_/<path>" (the guest's default namespace).
std::string Act(const std::string& path);

// ---- the cluster ------------------------------------------------------------------------------

struct LocalClusterOptions {
    int controllers = 2;
    int invokers = 2;
    std::string store = "sqlite";
    /// --controller-args of `up`, e.g. throttles out of the way; empty = none.
    std::string controller_args;
    /// --invoker-args of `up`; empty = none.
    std::string invoker_args = "--no-stem-cells";
    /// The prefix of the cluster's temp dir (state, logs), for post-mortems (WISP_KEEP_TEMP).
    std::string dir_prefix = "wisp-local-cluster-";
};

/// tools/local-cluster.sh up in the constructor (REQUIREs it up, with AUTH, APIHOST, one port
/// per controller and one control endpoint per invoker), down in the destructor, also when the
/// constructor fails after `up`.
class LocalCluster {
  public:
    explicit LocalCluster(LocalClusterOptions options = {});
    LocalCluster(const LocalCluster&) = delete;
    LocalCluster& operator=(const LocalCluster&) = delete;

    /// `local-cluster.sh <args> --dir <dir>`, e.g. "kill invoker1 --signal KILL", "start
    /// invoker1 --extra-args '...'".
    CommandResult Do(const std::string& args) const;
    /// build/bin/wisp-admin <args> with the cluster's environment (`local-cluster.sh env`).
    CommandResult Admin(const std::string& args) const;
    /// A client of controller `i` directly (127.0.0.1:<its port>), with the guest key.
    HttpClient Controller(int i = 0) const;
    /// A client of nginx in front of the controllers (APIHOST, https), with the guest key.
    HttpClient Nginx() const;
    /// The last `max_bytes` of DIR/logs/<component>.log ("controller0", "invoker1", ...).
    std::string Logs(const std::string& component, size_t max_bytes = 6000) const;

    testing::TempDir dir;
    std::string up_output;                       // what `up` printed
    std::string auth;                            // the guest key "uuid:key"
    std::string apihost;                         // "https://127.0.0.1:<port>" (nginx)
    std::vector<int> controller_ports;           // by controller
    std::vector<std::string> control_endpoints;  // "127.0.0.1:<port>" by invoker

  private:
    /// Runs `down` when destroyed; declared after `dir`, so it runs before dir is removed.
    struct Down {
        const testing::TempDir& dir;
        ~Down();
    };
    Down down_{dir};
};

/// Polls GET `path` on each controller in `which` until it answers `want` (200 ms apart); false
/// (with an UNSCOPED_INFO of the last answer) when `timeout` passes first.
bool AllSay(const LocalCluster& c, const std::vector<int>& which, const std::string& path,
            const std::string& want, std::chrono::seconds timeout);
/// The GET /invokers answer for invokers 0..n-1 in `states`, e.g. {"up","down"} ->
/// {"invoker0/0":"up","invoker1/1":"down"}.
std::string Invokers(const std::vector<std::string>& states);
/// The "invoker" annotation of a record (a blocking invoke's answer or GET activations/<id>),
/// or r.Describe() when it is not a 200 record with one.
std::string InvokerOf(const HttpResult& r);

// ---- sharding ---------------------------------------------------------------------------------

/// The order in which the sharding balancer probes `n` managed invokers of equal size for the
/// guest's action `name`: [0] its home, [1] the step invoker, ...
std::vector<int> ShardingOrder(const std::string& name, int n);
/// A name "<prefix>-<k>" whose sharding home among `n` invokers is `invoker` (guest namespace).
std::string NameWithHome(const std::string& prefix, int invoker, int n);

// ---- records ----------------------------------------------------------------------------------

/// GET activations/<id> (250 ms apart) until it answers 200 or `deadline` passes; the last answer.
HttpResult WaitForRecord(const HttpClient& http, const std::string& id,
                         std::chrono::steady_clock::time_point deadline);
/// CHECKs that every id in `ids` has a record (waiting up to `timeout` in all) and is listed
/// exactly once among the activations of `action` (a second record of one id is listed twice).
void CheckExactlyOneRecordEach(const HttpClient& http, const std::string& action,
                               const std::vector<std::string>& ids, std::chrono::seconds timeout);

// ---- load -------------------------------------------------------------------------------------

/// Load's target for nginx (APIHOST); targets 0..controllers-1 are the controllers directly.
constexpr int kNginx = -1;

/// One invoke sent by a Load: where to, when it started, what came back.
struct Sent {
    int target = 0;  // controller index, or kNginx
    bool blocking = false;
    std::chrono::steady_clock::time_point started;
    int status = 0;        // 0: no answer (connection error)
    std::string describe;  // r.Describe() when not accepted
};

/// True when the invoke was accepted (200 or 202).
bool Accepted(const Sent& s);
/// How many invokes of `target` started at or after `from`, and how many of those were accepted.
std::pair<int, int> CountAfter(const std::vector<Sent>& sent, int target,
                               std::chrono::steady_clock::time_point from);

struct LoadOptions {
    /// Where to send: controller indexes and/or kNginx.
    std::vector<int> targets = {0, 1, kNginx};
    /// Per target one thread of blocking and/or one of non-blocking invokes.
    bool blocking = true;
    bool non_blocking = true;
    /// Each thread starts an invoke at most once per `period` (5/s per thread by default): a
    /// non-blocking client would otherwise outrun the invokers, and a refused connection (a
    /// killed controller) answers at once.
    std::chrono::milliseconds period{200};
};

/// Client threads invoking the guest's `action` with {"t":<target>,"n":<i>} until Stop(); every
/// invoke is kept as a Sent, every activation id answered with 200/202 in ids().
class Load {
  public:
    Load(const LocalCluster& cluster, const std::string& action, LoadOptions options = {});
    ~Load() { Stop(); }
    Load(const Load&) = delete;
    Load& operator=(const Load&) = delete;

    /// Stops the threads (each after its current invoke) and joins them. Idempotent.
    void Stop();
    /// Waits (checking every 50 ms, up to `timeout`) until `pred(sent)` holds for the invokes
    /// sent so far; false when it did not.
    template <class Pred>
    bool WaitFor(Pred pred, std::chrono::seconds timeout) {
        const auto until = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            {
                std::lock_guard<std::mutex> lock(mu_);
                if (pred(sent_)) return true;
            }
            if (std::chrono::steady_clock::now() > until) return false;
            // The workers are other threads' HTTP calls.
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    /// The activation ids accepted so far.
    std::vector<std::string> ids();
    /// The invokes sent so far, in the order they completed.
    std::vector<Sent> sent();

  private:
    void Worker(const LocalCluster& cluster, std::string action, int target, bool blocking,
                std::chrono::milliseconds period);

    std::atomic<bool> stop_{false};
    std::mutex mu_;
    std::vector<std::string> ids_;
    std::vector<Sent> sent_;
    std::vector<std::thread> workers_;
};

}  // namespace wisp::e2e
