#pragma once
// PouchDbServer: a throwaway CouchDB-compatible server (pouchdb-server --in-memory) on a free
// loopback port, for the CouchDB store's integration and contract tests.
//
// The binary is $WISP_POUCHDB_SERVER, else <source dir>/.cache/npm/node_modules/.bin/
// pouchdb-server (installed by tools/test-setup.sh). It runs in a private temporary directory
// (pouchdb-server writes config.json and log.txt into its working directory), in its own process
// group; destroying the PouchDbServer stops the group and removes the directory. If the test
// binary dies without unwinding, the kernel kills the server (PR_SET_PDEATHSIG, see
// ChildProcess). Not thread-safe: one owner thread.
#include <memory>
#include <string>
#include <string_view>

#include <absl/status/statusor.h>

#include <wisp/testing/child_process.hpp>
#include <wisp/testing/temp_dir.hpp>

namespace wisp::testing {

class PouchDbServer {
  public:
    /// Starts a server and waits until it answers HTTP (GET / -> 200). FailedPrecondition when
    /// the binary is missing (the message says how to install it); Unavailable when it does not
    /// come up (the message carries the end of its log). `port` 0 = a free loopback port.
    [[nodiscard]] static absl::StatusOr<std::unique_ptr<PouchDbServer>> Start(int port = 0);

    /// One server for the whole test binary, started on first use from the calling thread
    /// (call it from the main thread) and stopped at exit. The status is the start's outcome.
    [[nodiscard]] static absl::StatusOr<PouchDbServer*> Shared();

    ~PouchDbServer();
    PouchDbServer(const PouchDbServer&) = delete;
    PouchDbServer& operator=(const PouchDbServer&) = delete;

    int port() const { return port_; }
    /// "http://127.0.0.1:<port>".
    std::string url() const;
    /// A store URI for CouchDbConfig::FromUri: "http://127.0.0.1:<port>?prefix=<db_prefix>".
    std::string StoreUri(std::string_view db_prefix) const;
    /// A fresh database prefix, unique within this process ("t<pid>_<n>_"), for independent
    /// stores on one server.
    static std::string UniquePrefix();

    /// SIGSTOP / SIGCONT to the server's process group: a hung server (connections are
    /// accepted by the kernel, nothing answers) until Resume().
    void Pause();
    void Resume();

    /// The path of the pouchdb-server binary that Start() runs.
    static std::string BinaryPath();

  private:
    PouchDbServer() = default;
    std::unique_ptr<TempDir> dir_;
    std::unique_ptr<ChildProcess> child_;
    int port_ = 0;
};

}  // namespace wisp::testing
