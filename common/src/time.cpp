#include <wisp/common/time.hpp>

#include <time.h>

#include <cstdio>

namespace wisp::common {
namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2 ? 1 : 0;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// Reads exactly `n` digits at `pos`.
bool Digits(std::string_view s, size_t& pos, size_t n, int64_t& out) {
    if (pos + n > s.size()) return false;
    out = 0;
    for (size_t i = 0; i < n; ++i) {
        const char c = s[pos + i];
        if (c < '0' || c > '9') return false;
        out = out * 10 + (c - '0');
    }
    pos += n;
    return true;
}

bool Expect(std::string_view s, size_t& pos, char c) {
    if (pos >= s.size() || s[pos] != c) return false;
    ++pos;
    return true;
}

}  // namespace

absl::StatusOr<int64_t> ParseRfc3339Nanos(std::string_view s) {
    auto bad = [&] {
        return absl::InvalidArgumentError("not an RFC 3339 time: '" + std::string(s) +
                                          "' (expected e.g. 2026-11-23T12:38:07.423818976Z)");
    };
    size_t pos = 0;
    int64_t year, month, day, hour, minute, second;
    if (!Digits(s, pos, 4, year) || !Expect(s, pos, '-') || !Digits(s, pos, 2, month) ||
        !Expect(s, pos, '-') || !Digits(s, pos, 2, day)) {
        return bad();
    }
    if (pos >= s.size() || (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ')) return bad();
    ++pos;
    if (!Digits(s, pos, 2, hour) || !Expect(s, pos, ':') || !Digits(s, pos, 2, minute) ||
        !Expect(s, pos, ':') || !Digits(s, pos, 2, second)) {
        return bad();
    }
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
        return bad();
    }
    int64_t nanos = 0;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        int digits = 0;
        int kept = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            if (kept < 9) {
                nanos = nanos * 10 + (s[pos] - '0');
                ++kept;
            }
            ++digits;
            ++pos;
        }
        if (digits == 0) return bad();
        for (; kept < 9; ++kept) nanos *= 10;
    }
    int64_t offset_seconds = 0;
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
        ++pos;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        const int sign = s[pos] == '-' ? -1 : 1;
        ++pos;
        int64_t oh, om;
        if (!Digits(s, pos, 2, oh) || !Expect(s, pos, ':') || !Digits(s, pos, 2, om) || oh > 23 ||
            om > 59) {
            return bad();
        }
        offset_seconds = sign * (oh * 3600 + om * 60);
    } else {
        return bad();
    }
    if (pos != s.size()) return bad();
    const int64_t days =
        DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
    const int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds;
    return seconds * kNanosPerSecond + nanos;
}

std::string FormatRfc3339Nanos(int64_t unix_nanos) {
    int64_t seconds = unix_nanos / kNanosPerSecond;
    int64_t nanos = unix_nanos % kNanosPerSecond;
    if (nanos < 0) {
        nanos += kNanosPerSecond;
        --seconds;
    }
    const auto t = static_cast<time_t>(seconds);
    tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(nanos));
    return buf;
}

}  // namespace wisp::common
