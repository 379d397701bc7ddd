// wisp-bench-journal: what the journal of accepted activations (controller/README.md, "No
// accepted activation lost") costs per invoke, on the store wisp-standalone uses (a SQLite file
// in WAL mode) or any store URI. C client threads each accept activations through the real
// ActivationJournal (group commit), and the invoker's record write follows; a final Sweep()
// removes the recorded entries. Printed: the record write alone (the baseline every activation
// pays anyway), Accept's latency (what the journal adds before the 202) and the sweep's cost per
// activation. Figures are printed, never asserted.
//
// Columns: wall time per activation with record writes only and with the journal, their
// difference (the journal's cost per invoke, throughput-wise), Accept's latency percentiles and
// how much of the cost the sweep is.
//
// usage: wisp-bench-journal [--store URI] [-n 4000] [--clients 1,8,32]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include <wisp/common/clock.hpp>
#include <wisp/store/open_store.hpp>

#include "activation_journal.hpp"  // controller/src: the journal is the controller's own

namespace {

using Clock = std::chrono::steady_clock;

wisp::common::ActivationRecord Record(int64_t now) {
    wisp::common::ActivationRecord r;
    r.namespace_path = wisp::common::EntityPath({"guest"});
    r.name = "hello";
    r.subject = "guest";
    r.activation_id = wisp::common::ActivationId::Generate();
    r.start_ms = now;
    r.annotations.Set("path", wisp::common::JsonValue::String("guest/hello"));
    return r;
}

double Percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
    std::string uri;
    int n = 4000;
    std::vector<int> clients_list{1, 8, 32};
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--store") {
            uri = v;
        } else if (k == "-n") {
            n = std::max(1, std::atoi(v.c_str()));
        } else if (k == "--clients") {
            clients_list.clear();
            for (size_t p = 0; p < v.size();) {
                const size_t c = v.find(',', p);
                clients_list.push_back(std::max(1, std::atoi(v.substr(p, c - p).c_str())));
                p = c == std::string::npos ? v.size() : c + 1;
            }
        } else {
            std::fprintf(stderr, "usage: %s [--store URI] [-n 4000] [--clients 1,8,32]\n", argv[0]);
            return 2;
        }
    }
    std::string dir;
    if (uri.empty()) {
        char tmpl[] = "/tmp/wisp-bench-journal.XXXXXX";
        if (::mkdtemp(tmpl) == nullptr) return 1;
        dir = tmpl;
        uri = "sqlite:" + dir + "/wisp.db";
    }
    spdlog::set_level(spdlog::level::warn);
    auto store = wisp::store::OpenArtifactStore(uri);
    if (!store.ok()) {
        std::fprintf(stderr, "cannot open %s: %s\n", uri.c_str(),
                     std::string(store.status().message()).c_str());
        return 1;
    }
    auto& clock = wisp::common::SystemClock::Instance();
    std::printf("journal cost on %s, %d activations per row\n",
                dir.empty() ? uri.c_str() : "a SQLite file (WAL)", n);
    std::printf("%8s  %16s  %16s  %18s  %18s  %12s\n", "clients", "records only", "with journal",
                "journal us/invoke", "accept p50/p99 us", "sweep share");
    for (int clients : clients_list) {
        // One row: `clients` threads write `n` records, first without, then with the journal
        // (accept before, sweep after); wall time per activation of each.
        auto run = [&](bool with_journal, std::vector<double>& accept, double& sweep_us) {
            wisp::controller::ActivationJournal journal(
                **store, clock,
                {.controller_id = "bench" + std::to_string(clients),
                 .sweep_interval = std::chrono::milliseconds(0),
                 .min_age = std::chrono::milliseconds(0)});
            if (!journal.Sweep().ok()) std::abort();
            std::vector<std::vector<double>> accept_us(clients);
            const auto start = Clock::now();
            std::vector<std::thread> threads;
            for (int c = 0; c < clients; ++c) {
                threads.emplace_back([&, c] {
                    for (int i = c; i < n; i += clients) {
                        auto rec = Record(clock.NowMs());
                        if (with_journal) {
                            const auto t0 = Clock::now();
                            if (!journal.Accept(rec, clock.NowMs() + 180000, false).ok()) {
                                std::abort();
                            }
                            accept_us[c].push_back(
                                std::chrono::duration<double, std::micro>(Clock::now() - t0)
                                    .count());
                        }
                        rec.end_ms = rec.start_ms + 1;
                        if (!(*store)->CreateActivation(rec).ok()) std::abort();
                    }
                });
            }
            for (auto& t : threads) t.join();
            const auto s0 = Clock::now();
            if (!journal.Sweep().ok() || journal.pending() != 0) std::abort();
            const auto end = Clock::now();
            sweep_us = std::chrono::duration<double, std::micro>(end - s0).count();
            for (auto& v : accept_us) accept.insert(accept.end(), v.begin(), v.end());
            return std::chrono::duration<double, std::micro>(end - start).count() / n;
        };
        std::vector<double> none, accept;
        double sweep0 = 0, sweep_us = 0;
        const double base = run(false, none, sweep0);
        const double with = run(true, accept, sweep_us);
        std::printf("%8d  %13.1f us  %13.1f us  %18.1f  %8.0f / %-8.0f  %11.0f%%\n", clients, base,
                    with, with - base, Percentile(accept, 0.5), Percentile(accept, 0.99),
                    100.0 * (sweep_us / n) / std::max(with - base, 1e-9));
    }
    if (!dir.empty()) std::filesystem::remove_all(dir);
    return 0;
}
