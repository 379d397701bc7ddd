#include "docker_api.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <wisp/common/json.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/common/time.hpp>

namespace wisp::invoker::docker {
namespace {

bool IsNameChar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '-';
}

/// The hardening every container Wisp makes carries: no capabilities, no privilege gain
/// (HostConfig fields).
void WriteNoPrivileges(rapidjson::Writer<rapidjson::StringBuffer>& w) {
    w.Key("CapDrop");
    w.StartArray();
    w.String("ALL");
    w.EndArray();
    w.Key("SecurityOpt");
    w.StartArray();
    w.String("no-new-privileges");
    w.EndArray();
}

}  // namespace

std::string SanitizeContainerName(std::string_view name) {
    std::string out;
    out.reserve(name.size() + 3);
    for (char c : name) {
        if (IsNameChar(c)) out.push_back(c);
    }
    if (out.empty() || std::isalnum(static_cast<unsigned char>(out[0])) == 0) {
        out.insert(0, "wsk");
    }
    if (out.size() > kMaxContainerNameLength) out.resize(kMaxContainerNameLength);
    return out;
}

int64_t CpuSharesFor(int64_t memory_mb, int64_t user_memory_mb) {
    constexpr int64_t kTotalShares = 1024;
    if (memory_mb <= 0 || user_memory_mb <= 0) return kTotalShares;
    const int64_t ratio = user_memory_mb / memory_mb;
    if (ratio <= 0) return kTotalShares;
    return std::max<int64_t>(kTotalShares / ratio, 2);
}

std::string BuildCreateBody(const ContainerSpec& spec, const CreateSettings& settings) {
    const std::string port_key = std::to_string(kProxyPort) + "/tcp";
    const int64_t memory_bytes = spec.memory_mb * 1024 * 1024;
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("Image");
    w.String(spec.image.c_str(), static_cast<rapidjson::SizeType>(spec.image.size()));
    w.Key("Tty");
    w.Bool(false);
    w.Key("OpenStdin");
    w.Bool(false);
    w.Key("AttachStdin");
    w.Bool(false);
    w.Key("AttachStdout");
    w.Bool(false);
    w.Key("AttachStderr");
    w.Bool(false);

    w.Key("Env");
    w.StartArray();
    for (const auto& [key, value] : spec.env) {
        const std::string kv = key + "=" + value;
        w.String(kv.c_str(), static_cast<rapidjson::SizeType>(kv.size()));
    }
    if (!settings.socket_host_dir.empty()) {
        const std::string kv =
            "WISP_PROXY_SOCKET=" + settings.socket_container_dir + "/" + settings.socket_name;
        w.String(kv.c_str(), static_cast<rapidjson::SizeType>(kv.size()));
        if (settings.socket_only) w.String("WISP_PROXY_PORT=none");
    }
    w.EndArray();

    w.Key("Labels");
    w.StartObject();
    for (const auto& [key, value] : spec.labels) {
        w.Key(key.c_str(), static_cast<rapidjson::SizeType>(key.size()));
        w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
    }
    w.EndObject();

    if (settings.publish_port) {
        w.Key("ExposedPorts");
        w.StartObject();
        w.Key(port_key.c_str());
        w.StartObject();
        w.EndObject();
        w.EndObject();
    }

    w.Key("HostConfig");
    w.StartObject();
    w.Key("Memory");
    w.Int64(memory_bytes);
    w.Key("MemorySwap");
    w.Int64(memory_bytes);
    w.Key("CpuShares");
    w.Int64(CpuSharesFor(spec.memory_mb, settings.user_memory_mb));
    w.Key("PidsLimit");
    w.Int64(settings.pids_limit);
    w.Key("Ulimits");
    w.StartArray();
    w.StartObject();
    w.Key("Name");
    w.String("nofile");
    w.Key("Soft");
    w.Int64(settings.nofile);
    w.Key("Hard");
    w.Int64(settings.nofile);
    w.EndObject();
    w.EndArray();
    WriteNoPrivileges(w);
    w.Key("LogConfig");
    w.StartObject();
    w.Key("Type");
    w.String("json-file");
    w.Key("Config");
    w.StartObject();
    if (settings.log_max_size_mb > 0) {
        const std::string size = std::to_string(settings.log_max_size_mb) + "m";
        const std::string files = std::to_string(std::max(settings.log_max_files, 1));
        w.Key("max-size");
        w.String(size.c_str(), static_cast<rapidjson::SizeType>(size.size()));
        w.Key("max-file");
        w.String(files.c_str(), static_cast<rapidjson::SizeType>(files.size()));
    }
    w.EndObject();
    w.EndObject();
    if (settings.tmp_size_mb > 0) {
        const std::string opts =
            "rw,nosuid,nodev,size=" + std::to_string(settings.tmp_size_mb) + "m";
        w.Key("Tmpfs");
        w.StartObject();
        w.Key("/tmp");
        w.String(opts.c_str(), static_cast<rapidjson::SizeType>(opts.size()));
        w.EndObject();
    }
    if (settings.storage_size_mb > 0) {
        const std::string size = std::to_string(settings.storage_size_mb) + "M";
        w.Key("StorageOpt");
        w.StartObject();
        w.Key("size");
        w.String(size.c_str(), static_cast<rapidjson::SizeType>(size.size()));
        w.EndObject();
    }
    if (!settings.runtime.empty()) {
        w.Key("Runtime");
        w.String(settings.runtime.c_str(),
                 static_cast<rapidjson::SizeType>(settings.runtime.size()));
    }
    w.Key("NetworkMode");
    w.String(settings.network.c_str(), static_cast<rapidjson::SizeType>(settings.network.size()));
    if (settings.publish_port) {
        w.Key("PortBindings");
        w.StartObject();
        w.Key(port_key.c_str());
        w.StartArray();
        w.StartObject();
        w.Key("HostIp");
        w.String("127.0.0.1");
        w.Key("HostPort");
        w.String("");
        w.EndObject();
        w.EndArray();
        w.EndObject();
    }
    if (!settings.socket_host_dir.empty()) {
        w.Key("Binds");
        w.StartArray();
        const std::string bind = settings.socket_host_dir + ":" + settings.socket_container_dir;
        w.String(bind.c_str(), static_cast<rapidjson::SizeType>(bind.size()));
        w.EndArray();
    }
    w.Key("AutoRemove");
    w.Bool(false);
    w.Key("RestartPolicy");
    w.StartObject();
    w.Key("Name");
    w.String("no");
    w.EndObject();
    w.EndObject();  // HostConfig
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
}

std::string BuildNetworkSandboxBody(const std::string& image,
                                    const std::map<std::string, std::string>& labels,
                                    const std::string& network, const std::string& runtime) {
    constexpr int64_t kSandboxMemory = int64_t{16} * 1024 * 1024;
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    auto str = [&](const std::string& text) {
        w.String(text.c_str(), static_cast<rapidjson::SizeType>(text.size()));
    };
    w.StartObject();
    w.Key("Image");
    str(image);
    w.Key("Entrypoint");
    w.StartArray();
    w.String("sleep");
    w.EndArray();
    w.Key("Cmd");
    w.StartArray();
    w.String("infinity");
    w.EndArray();
    w.Key("Labels");
    w.StartObject();
    for (const auto& [key, value] : labels) {
        w.Key(key.c_str(), static_cast<rapidjson::SizeType>(key.size()));
        str(value);
    }
    w.EndObject();
    w.Key("HostConfig");
    w.StartObject();
    w.Key("Memory");
    w.Int64(kSandboxMemory);
    w.Key("MemorySwap");
    w.Int64(kSandboxMemory);
    w.Key("CpuShares");
    w.Int64(2);
    w.Key("PidsLimit");
    w.Int64(8);
    WriteNoPrivileges(w);
    w.Key("LogConfig");
    w.StartObject();
    w.Key("Type");
    w.String("none");
    w.EndObject();
    if (!runtime.empty()) {
        w.Key("Runtime");
        str(runtime);
    }
    w.Key("NetworkMode");
    str(network);
    w.Key("AutoRemove");
    w.Bool(false);
    w.Key("RestartPolicy");
    w.StartObject();
    w.Key("Name");
    w.String("no");
    w.EndObject();
    w.EndObject();  // HostConfig
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
}

std::string FormatSinceParameter(int64_t unix_nanos) {
    int64_t seconds = unix_nanos / 1'000'000'000;
    int64_t nanos = unix_nanos % 1'000'000'000;
    if (nanos < 0) {
        nanos += 1'000'000'000;
        seconds -= 1;
    }
    char buf[48];
    std::snprintf(buf, sizeof buf, "%lld.%09lld", static_cast<long long>(seconds),
                  static_cast<long long>(nanos));
    return buf;
}

ImageReference ParseImageReference(std::string_view image) {
    if (image.find('@') != std::string_view::npos) return {std::string(image), ""};
    const size_t slash = image.rfind('/');
    const size_t colon = image.rfind(':');
    if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
        return {std::string(image.substr(0, colon)), std::string(image.substr(colon + 1))};
    }
    return {std::string(image), "latest"};
}

std::string ImagePath(std::string_view image, std::string_view what) {
    return "/images/" + common::PercentEncode(image) + "/" + std::string(what);
}

std::string EngineErrorMessage(std::string_view body) {
    rapidjson::Document doc;
    if (common::ParseJson(body, doc).ok() && doc.IsObject()) {
        auto it = doc.FindMember("message");
        if (it != doc.MemberEnd() && it->value.IsString()) {
            return std::string(it->value.GetString(), it->value.GetStringLength());
        }
    }
    size_t b = 0, e = body.size();
    while (b < e && std::isspace(static_cast<unsigned char>(body[b])) != 0) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(body[e - 1])) != 0) --e;
    std::string out(body.substr(b, e - b));
    if (out.size() > 500) out.resize(500);
    return out;
}

absl::Status PullStreamStatus(std::string_view stream) {
    size_t pos = 0;
    while (pos < stream.size()) {
        size_t end = stream.find('\n', pos);
        if (end == std::string_view::npos) end = stream.size();
        const std::string_view line = stream.substr(pos, end - pos);
        pos = end + 1;
        if (line.find("error") == std::string_view::npos) continue;
        rapidjson::Document doc;
        if (!common::ParseJson(line, doc).ok() || !doc.IsObject()) continue;
        auto it = doc.FindMember("error");
        if (it == doc.MemberEnd()) continue;
        return absl::FailedPreconditionError(
            it->value.IsString() ? std::string(it->value.GetString(), it->value.GetStringLength())
                                 : std::string("unknown error"));
    }
    return absl::OkStatus();
}

bool LogFrameDemuxer::Feed(std::string_view chunk, const FrameHandler& on_frame) {
    buffer_.append(chunk.data(), chunk.size());
    bool go_on = true;
    while (go_on && buffer_.size() - offset_ >= 8) {
        const auto* h = reinterpret_cast<const unsigned char*>(buffer_.data() + offset_);
        const size_t size = (static_cast<size_t>(h[4]) << 24) | (static_cast<size_t>(h[5]) << 16) |
                            (static_cast<size_t>(h[6]) << 8) | static_cast<size_t>(h[7]);
        if (buffer_.size() - offset_ - 8 < size) break;
        const int stream = h[0] == 2 ? 2 : 1;
        go_on = on_frame(stream, std::string_view(buffer_).substr(offset_ + 8, size));
        offset_ += 8 + size;
    }
    if (offset_ == buffer_.size()) {
        buffer_.clear();
        offset_ = 0;
    } else if (offset_ > (64u << 10)) {
        buffer_.erase(0, offset_);
        offset_ = 0;
    }
    return go_on;
}

bool EntryReachesCursor(std::string_view payload, const LogCursor& cursor) {
    if (!cursor.last_nanos) return true;
    const size_t space = payload.find(' ');
    if (space == std::string_view::npos) return false;
    auto nanos = common::ParseRfc3339Nanos(payload.substr(0, space));
    return nanos.ok() && *nanos <= *cursor.last_nanos;
}

LogAssembler::LogAssembler(LogCursor start, int sentinels, int64_t limit_bytes)
    : start_(start),
      cursor_(start),
      skip_at_start_(start.consumed_at_last),
      wanted_sentinels_(sentinels),
      limit_bytes_(limit_bytes) {}

void LogAssembler::Consume(int64_t nanos) {
    if (cursor_.last_nanos && *cursor_.last_nanos == nanos) {
        ++cursor_.consumed_at_last;
    } else if (!cursor_.last_nanos || nanos > *cursor_.last_nanos) {
        cursor_.last_nanos = nanos;
        cursor_.consumed_at_last = 1;
    }
    // An entry older than the cursor (docker stamps stdout and stderr in separate goroutines, so
    // the file is not strictly ordered) leaves the cursor where it is.
}

void LogAssembler::Emit(int stream, std::string time, std::string text) {
    if (logs_.truncated) return;
    if (bytes_ + static_cast<int64_t>(text.size()) > limit_bytes_) {
        logs_.truncated = true;
        return;
    }
    bytes_ += static_cast<int64_t>(text.size());
    logs_.lines.push_back(
        LogLine{std::move(time), stream == 2 ? "stderr" : "stdout", std::move(text)});
}

bool LogAssembler::OnEntry(int stream, std::string_view payload) {
    if (done_) return true;
    const size_t space = payload.find(' ');
    std::string_view time_text;
    std::string_view text = payload;
    std::optional<int64_t> nanos;
    if (space != std::string_view::npos) {
        auto parsed = common::ParseRfc3339Nanos(payload.substr(0, space));
        if (parsed.ok()) {
            nanos = *parsed;
            time_text = payload.substr(0, space);
            text = payload.substr(space + 1);
        }
    }
    if (!nanos) {
        ++malformed_;
    } else if (start_.last_nanos) {
        if (*nanos < *start_.last_nanos) return false;  // consumed by an earlier call
        if (*nanos == *start_.last_nanos && skip_at_start_ > 0) {
            --skip_at_start_;
            return false;
        }
    }
    if (nanos) Consume(*nanos);

    const int s = stream == 2 ? 2 : 1;
    const bool complete = !text.empty() && text.back() == '\n';
    if (complete) text.remove_suffix(1);
    Partial& partial = partial_[s];
    if (!partial.active) {
        partial.active = true;
        partial.time = std::string(time_text);
    }
    Append(partial, text);
    if (!complete) return false;
    std::string line = std::move(partial.text);
    if (partial.overflow) line += partial.tail;  // the sentinel, if any, ends the line
    std::string time = std::move(partial.time);
    partial = Partial{};
    const size_t at = line.find(kActivationSentinel);
    if (at == std::string::npos) {
        Emit(s, std::move(time), std::move(line));
        return false;
    }
    if (at > 0) Emit(s, time, line.substr(0, at));
    ++seen_sentinels_;
    if (wanted_sentinels_ > 0 && seen_sentinels_ >= wanted_sentinels_) done_ = true;
    return done_;
}

void LogAssembler::Append(Partial& partial, std::string_view text) {
    // A line longer than the limit cannot be returned whole: keep what shows that it is too
    // long (limit + 1 bytes) and its last bytes, where a sentinel written after it would be.
    // Memory stays bounded whatever the action writes without a newline.
    const size_t keep = static_cast<size_t>(std::max<int64_t>(limit_bytes_, 0)) + 1;
    if (!partial.overflow) {
        const size_t room = keep - std::min(keep, partial.text.size());
        partial.text.append(text.data(), std::min(room, text.size()));
        if (text.size() <= room) return;
        partial.overflow = true;
        text.remove_prefix(room);
    }
    constexpr size_t kTail = kActivationSentinel.size() * 2;
    partial.tail.append(text.data(), text.size());
    if (partial.tail.size() > kTail) partial.tail.erase(0, partial.tail.size() - kTail);
}

Container::Logs LogAssembler::Finish() {
    for (int s = 1; s <= 2; ++s) {
        if (partial_[s].active) {
            Partial p = std::move(partial_[s]);
            partial_[s] = Partial{};
            if (p.overflow) p.text += p.tail;
            Emit(s, std::move(p.time), std::move(p.text));
        }
    }
    logs_.complete = wanted_sentinels_ <= 0 || done_;
    Container::Logs out = std::move(logs_);
    logs_ = Container::Logs{};
    return out;
}

}  // namespace wisp::invoker::docker
