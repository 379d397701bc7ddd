#pragma once
// Routes spdlog's default logger into a string for the lifetime of the object, so that a test
// can assert which lines a component logs (e.g. that a request's lines carry its transaction id).
// Lines are "<level> <message>"; not for tests that log from several threads at once.
#include <memory>
#include <sstream>
#include <string>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

namespace wisp::testing {

class CapturedLog {
  public:
    explicit CapturedLog(spdlog::level::level_enum level = spdlog::level::debug)
        : previous_(spdlog::default_logger()) {
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
        sink->set_pattern("%l %v");
        auto logger = std::make_shared<spdlog::logger>("captured", sink);
        logger->set_level(level);
        spdlog::set_default_logger(logger);
    }
    ~CapturedLog() { spdlog::set_default_logger(previous_); }
    CapturedLog(const CapturedLog&) = delete;
    CapturedLog& operator=(const CapturedLog&) = delete;

    std::string text() const { return out_.str(); }

  private:
    std::ostringstream out_;
    std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace wisp::testing
