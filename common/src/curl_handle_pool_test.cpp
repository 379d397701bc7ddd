#include <wisp/common/curl_handle_pool.hpp>

#include <thread>
#include <vector>

#include <catch2/catch.hpp>

using wisp::common::CurlErrorText;
using wisp::common::CurlHandlePool;

TEST_CASE("curl handle pool reuses handles and caps idle ones", "[curl]") {
    CurlHandlePool pool(2);
    CURL* a = pool.Acquire();
    CURL* b = pool.Acquire();
    CURL* c = pool.Acquire();
    REQUIRE(a != nullptr);
    CHECK(a != b);
    CHECK(pool.IdleCount() == 0);
    pool.Release(a);
    pool.Release(b);
    pool.Release(c);  // over the cap: closed
    CHECK(pool.IdleCount() == 2);
    CURL* again = pool.Acquire();
    CHECK((again == a || again == b));  // an idle handle comes back, not a new one
    CHECK(pool.IdleCount() == 1);
    pool.Release(again);
    pool.Release(nullptr);  // ignored
    CHECK(pool.IdleCount() == 2);
}

TEST_CASE("curl handle pool is safe from many threads", "[curl]") {
    CurlHandlePool pool(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&pool] {
            for (int i = 0; i < 200; ++i) pool.Release(pool.Acquire());
        });
    }
    for (auto& th : threads) th.join();
    CHECK(pool.IdleCount() <= 4);
    CHECK(pool.IdleCount() >= 1);
}
TEST_CASE("curl error text: the code's text, then the error buffer's when it has any", "[curl]") {
    CHECK(CurlErrorText(CURLE_COULDNT_CONNECT, "") == curl_easy_strerror(CURLE_COULDNT_CONNECT));
    CHECK(CurlErrorText(CURLE_COULDNT_CONNECT, nullptr) ==
          curl_easy_strerror(CURLE_COULDNT_CONNECT));
    CHECK(CurlErrorText(CURLE_OPERATION_TIMEDOUT, "Operation timed out after 5000 ms") ==
          std::string(curl_easy_strerror(CURLE_OPERATION_TIMEDOUT)) +
              " (Operation timed out after 5000 ms)");
}
