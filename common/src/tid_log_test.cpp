#include <wisp/common/tid_log.hpp>

#include <memory>
#include <sstream>

#include <spdlog/sinks/ostream_sink.h>
#include <catch2/catch.hpp>

namespace {

// Routes the default logger into a stream for the test's lifetime.
class CapturedLog {
  public:
    CapturedLog() : previous_(spdlog::default_logger()) {
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
        sink->set_pattern("%l %v");
        auto logger = std::make_shared<spdlog::logger>("tid_log_test", sink);
        logger->set_level(spdlog::level::info);
        spdlog::set_default_logger(logger);
    }
    ~CapturedLog() { spdlog::set_default_logger(previous_); }
    std::string text() const { return out_.str(); }

  private:
    std::ostringstream out_;
    std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace

TEST_CASE("TidLog prefixes every line with the transaction id", "[tid_log]") {
    CapturedLog log;
    wisp::common::TidLog("abc123").warn("activation {} failed: {}", "a1", 42);
    wisp::common::TidLog("").error("no request");
    wisp::common::TidLog("t9").debug("filtered {}", 1);  // below the logger's level
    CHECK(log.text() == "warning [abc123] activation a1 failed: 42\nerror [-] no request\n");
}
