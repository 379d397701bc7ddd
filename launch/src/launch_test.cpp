// The process-wide memory settings every Wisp program applies at start (issue 14, idle RSS).
#include <wisp/launch/launch.hpp>

#include <dlfcn.h>
#include <malloc.h>

#include <algorithm>
#include <barrier>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

namespace {

/// The malloc arenas of this process (glibc's malloc_info: one <heap nr=...> per arena).
int ArenaCount() {
    char* text = nullptr;
    size_t size = 0;
    FILE* out = open_memstream(&text, &size);
    REQUIRE(out != nullptr);
    REQUIRE(malloc_info(0, out) == 0);
    std::fclose(out);
    const std::string xml(text, size);
    std::free(text);
    int n = 0;
    for (size_t at = xml.find("<heap nr="); at != std::string::npos;
         at = xml.find("<heap nr=", at + 1)) {
        ++n;
    }
    return n;
}

}  // namespace

TEST_CASE("launch: ConfigureMalloc keeps the arenas to max(2, cores) however many threads allocate",
          "[launch]") {
    REQUIRE(std::getenv("MALLOC_ARENA_MAX") == nullptr);  // the operator's setting would win
    wisp::launch::ConfigureMalloc();
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const int limit = std::max(2, cores);
    // Threads alive at once, each allocating: without the limit each gets an arena of its own
    // (glibc: up to 8 per core).
    const int threads = limit + 6;
    std::barrier all_allocated(threads + 1);
    std::barrier may_end(threads + 1);
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) {
        pool.emplace_back([&] {
            std::vector<char> block(4096, 'x');  // this thread's first allocation
            all_allocated.arrive_and_wait();
            may_end.arrive_and_wait();
        });
    }
    all_allocated.arrive_and_wait();
    const int arenas = ArenaCount();
    may_end.arrive_and_wait();
    for (auto& t : pool) t.join();
    CHECK(arenas <= limit);
}

TEST_CASE("launch: the programs export the hook that skips GnuTLS's implicit initialisation",
          "[launch]") {
    // libgnutls's constructor asks this symbol through its PLT: it must be the executable's
    // (exported, answering 1), not libgnutls's weak default (answering 0).
    auto* hook = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "_gnutls_global_init_skip"));
    REQUIRE(hook != nullptr);
    CHECK(hook() == 1);
    wisp::launch::ReleaseFreeMemory();  // callable any time; returns nothing to check
}
