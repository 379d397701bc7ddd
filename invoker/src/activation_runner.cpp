#include <wisp/invoker/activation_runner.hpp>

#include <time.h>

#include <algorithm>
#include <set>
#include <variant>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <wisp/common/entity_json.hpp>
#include <wisp/common/image_reference.hpp>
#include <wisp/common/tid_log.hpp>

namespace wisp::invoker {

namespace messages {

std::string TimedOutActivation(int64_t timeout_ms, bool init) {
    return fmt::format("The action exceeded its time limits of {} milliseconds{}", timeout_ms,
                       init ? " during initialization." : ".");
}

std::string InvalidInitResponse(std::string_view body) {
    if (body.empty()) return "The action failed during initialization.";
    return fmt::format("The action failed during initialization: {}", body);
}

std::string InvalidRunResponse(std::string_view body) {
    if (body.empty()) return "The action did not produce a valid JSON or JSON Array response.";
    return fmt::format("The action did not produce a valid JSON or JSON Array response: {}", body);
}

std::string TruncatedResponse(std::string_view trunk, int64_t length, int64_t max_length) {
    return fmt::format(
        "The action produced a response that exceeded the allowed length: {} > {} bytes. The "
        "truncated response was: {}",
        length, max_length, trunk);
}

std::string TruncateLogs(int64_t limit_bytes) {
    return fmt::format(
        "Logs were truncated because the total bytes size exceeds the limit of {} bytes.",
        limit_bytes);
}

std::string ImagePullError(std::string_view image) {
    return fmt::format("Failed to pull container image '{}'.", image);
}

std::string ImageNotAllowed(std::string_view image) {
    return fmt::format("The container image '{}' is not allowed on this platform.", image);
}

}  // namespace messages

namespace {

using common::ActivationResponse;
using common::ActivationStatus;
using common::JsonValue;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr std::string_view kUnknownKind = "unknown";

void Key(Writer& w, std::string_view key) {
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
}
void Str(Writer& w, std::string_view s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

/// The first `max` bytes of `s`, not cutting a UTF-8 sequence.
std::string_view Utf8Prefix(std::string_view s, size_t max) {
    if (s.size() <= max) return s;
    size_t n = max;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    return s.substr(0, n);
}

/// {"error": <value>} with `status`.
ActivationResponse ErrorWithValue(ActivationStatus status, const rapidjson::Value& value) {
    ActivationResponse r;
    r.status = status;
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    Key(w, "error");
    value.Accept(w);
    w.EndObject();
    r.result = JsonValue::Parse(std::string_view(buf.GetString(), buf.GetSize())).value();
    return r;
}

/// An action container's answer is hostile input: bounded like every parse, but ill-formed UTF-8
/// is kept (and replaced with U+FFFD when written), as OpenWhisk decodes it.
common::JsonLimits ContainerAnswerLimits() {
    common::JsonLimits limits;
    limits.validate_utf8 = false;
    return limits;
}

/// OpenWhisk's processInitResponseContent for a non-200 answer.
ActivationResponse InitFailureResponse(const std::string& body) {
    rapidjson::Document d;
    if (common::ParseJson(body, d, ContainerAnswerLimits()).ok() && d.IsObject()) {
        auto it = d.FindMember("error");
        if (it != d.MemberEnd())
            return ErrorWithValue(ActivationStatus::kDeveloperError, it->value);
    }
    return ActivationResponse::Error(ActivationStatus::kDeveloperError,
                                     messages::InvalidInitResponse(body));
}

/// OpenWhisk's processRunResponseContent, with the size check first.
ActivationResponse RunResponse(const ProxyResponse& r, const ActivationRunnerConfig& config) {
    const std::string& body = r.body;
    const auto length = static_cast<int64_t>(body.size());
    if (length > config.max_result_bytes) {
        auto response = ActivationResponse::Error(
            ActivationStatus::kApplicationError,
            messages::TruncatedResponse(Utf8Prefix(body, static_cast<size_t>(std::max<int64_t>(
                                                             0, config.result_truncation_bytes))),
                                        length, config.max_result_bytes));
        response.size = length;
        return response;
    }
    rapidjson::Document d;
    if (!common::ParseJson(body, d, ContainerAnswerLimits()).ok() ||
        !(d.IsObject() || d.IsArray())) {
        return ActivationResponse::Error(ActivationStatus::kDeveloperError,
                                         messages::InvalidRunResponse(body));
    }
    const rapidjson::Value* error = nullptr;
    if (d.IsObject()) {
        auto it = d.FindMember("error");
        if (it != d.MemberEnd()) error = &it->value;
    }
    ActivationResponse response;
    if (r.status != 200) {
        response = error != nullptr ? ErrorWithValue(ActivationStatus::kDeveloperError, *error)
                                    : ActivationResponse::Error(ActivationStatus::kDeveloperError,
                                                                messages::InvalidRunResponse(body));
    } else if (error != nullptr) {
        response = ErrorWithValue(ActivationStatus::kApplicationError, *error);
    } else {
        response.status = ActivationStatus::kSuccess;
        response.result = JsonValue::FromRapid(d);
    }
    response.size = length;
    return response;
}

/// The `limits` annotation: what common::WriteLimits writes, built as a value (writing the text
/// and parsing it back cost ~3 % of a warm invoke's instructions).
JsonValue LimitsValue(const common::ActionLimits& l) {
    rapidjson::Document doc;
    doc.SetObject();
    auto& alloc = doc.GetAllocator();
    doc.AddMember("timeout", rapidjson::Value(l.timeout_ms), alloc);
    doc.AddMember("memory", rapidjson::Value(l.memory_mb), alloc);
    doc.AddMember("logs", rapidjson::Value(l.logs_mb), alloc);
    doc.AddMember("concurrency", rapidjson::Value(l.concurrency), alloc);
    if (l.instances) doc.AddMember("instances", rapidjson::Value(*l.instances), alloc);
    return JsonValue::FromRapid(doc);
}

common::ActivationRecord BaseRecord(const wisp::v1::ActivationMessage& msg, std::string name,
                                    common::SemVer version) {
    common::ActivationRecord rec;
    std::string ns = msg.user().namespace_name();
    if (ns.empty()) {
        const std::string& path = msg.action().path();
        ns = path.substr(0, path.find('/'));
    }
    rec.namespace_path = common::EntityPath(std::vector<std::string>{ns});
    rec.name = std::move(name);
    rec.subject = msg.user().subject();
    auto id = common::ActivationId::Parse(msg.activation_id());
    rec.activation_id = id.ok() ? *id : common::ActivationId::Generate();
    if (!msg.cause().empty()) {
        auto cause = common::ActivationId::Parse(msg.cause());
        if (cause.ok()) rec.cause = *cause;
    }
    rec.version = version;
    rec.publish = false;
    return rec;
}

/// When the activation entered the system (for waitTime), 0 when unknown.
int64_t WaitStartMs(const wisp::v1::ActivationMessage& msg) {
    if (msg.wait_start_ms() > 0) return msg.wait_start_ms();
    return msg.transid().start_ms();
}

/// OpenWhisk's `provide-api-key`: absent or truthy = give the action the caller's key.
bool ProvidesApiKey(const common::Action& action) {
    if (action.annotations.Find("provide-api-key") == nullptr) return true;
    return action.annotations.IsTruthy("provide-api-key");
}

std::string ApiKey(const wisp::v1::ActivationMessage& msg) {
    const auto& auth = msg.user().auth();
    if (auth.uuid().empty() && auth.key().empty()) return {};
    return auth.uuid() + ":" + auth.key();
}

struct Arguments {
    std::string value_json;                                     // the /run value
    std::vector<std::pair<std::string, std::string>> init_env;  // init parameters, as strings
};

/// Splits the message content into /run arguments and /init env (parameters marked init).
Arguments SplitArguments(const wisp::v1::ActivationMessage& msg, const common::Action& action) {
    std::set<std::string> init_keys(msg.init_args().begin(), msg.init_args().end());
    if (init_keys.empty()) {
        for (auto& k : action.parameters.InitKeys()) init_keys.insert(k);
    }
    Arguments args;
    const std::string content = msg.has_content_json() && !msg.content_json().empty()
                                    ? msg.content_json()
                                    : std::string("{}");
    if (init_keys.empty()) {
        args.value_json = content;
        return args;
    }
    rapidjson::Document d;
    if (!common::ParseJson(content, d).ok() || !d.IsObject()) {
        args.value_json = content;
        return args;
    }
    for (const auto& key : init_keys) {
        auto it = d.FindMember(rapidjson::StringRef(key.data(), key.size()));
        if (it != d.MemberEnd()) {
            args.init_env.emplace_back(key, JsonValue::FromRapid(it->value).ToEnvString());
            d.RemoveMember(it);
        } else if (const auto* p = action.parameters.Get(key)) {
            args.init_env.emplace_back(key, p->ToEnvString());
        }
    }
    args.value_json = common::ToCompactJson(d);
    return args;
}

struct ExecInfo {
    std::string kind;  // annotation value
    std::string image;
    bool pull_if_missing = false;
    bool sentinelled = true;
    std::optional<std::string> code;
    bool binary = false;
    std::string main = "main";
    std::string error;  // when the action cannot run here
};

ExecInfo ResolveExec(const common::Action& action, const common::RuntimeManifest& manifest) {
    ExecInfo info;
    info.kind = common::ExecKind(action.exec);
    if (const auto* code = std::get_if<common::CodeExec>(&action.exec)) {
        const auto* kind = manifest.Find(code->kind);
        if (kind == nullptr) {
            auto resolved = manifest.ResolveKind(code->kind);
            if (resolved.ok()) kind = manifest.Find(*resolved);
            if (kind == nullptr) {
                info.error = resolved.ok()
                                 ? fmt::format("The runtime '{}' has no image.", code->kind)
                                 : std::string(resolved.status().message());
                return info;
            }
        }
        info.image = kind->image;
        info.code = code->code;
        info.binary = code->binary;
        if (code->main) info.main = *code->main;
    } else if (const auto* bb = std::get_if<common::BlackboxExec>(&action.exec)) {
        if (const auto* local = manifest.FindBlackbox(bb->image)) {
            info.image = local->local_image;
        } else {
            info.image = common::WithDefaultTag(bb->image);
            info.pull_if_missing = true;
            info.sentinelled = false;
        }
        info.code = bb->code;
        info.binary = bb->binary;
        if (bb->main) info.main = *bb->main;
    } else {
        info.error = "A sequence is run by the controller, not by an invoker.";
    }
    return info;
}

std::string InitBody(const common::Action& action, const ExecInfo& exec,
                     const wisp::v1::ActivationMessage& msg, const Arguments& args,
                     int64_t deadline_ms) {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    Key(w, "value");
    w.StartObject();
    Key(w, "name");
    Str(w, action.name);
    Key(w, "main");
    Str(w, exec.main);
    Key(w, "binary");
    w.Bool(exec.binary);
    if (exec.code) {
        Key(w, "code");
        Str(w, *exec.code);
    }
    Key(w, "env");
    w.StartObject();
    if (ProvidesApiKey(action)) {
        std::string key = ApiKey(msg);
        if (!key.empty()) {
            Key(w, "__OW_API_KEY");
            Str(w, key);
        }
    }
    Key(w, "__OW_NAMESPACE");
    Str(w, msg.user().namespace_name());
    Key(w, "__OW_ACTION_NAME");
    Str(w, action.Fqn().ToString());
    Key(w, "__OW_ACTION_VERSION");
    Str(w, action.version.ToString());
    Key(w, "__OW_ACTIVATION_ID");
    Str(w, msg.activation_id());
    Key(w, "__OW_TRANSACTION_ID");
    Str(w, msg.transid().id());
    Key(w, "__OW_DEADLINE");
    Str(w, std::to_string(deadline_ms));
    for (const auto& [k, v] : args.init_env) {
        Key(w, k);
        Str(w, v);
    }
    w.EndObject();
    w.EndObject();
    w.EndObject();
    return {buf.GetString(), buf.GetSize()};
}

std::string RunBody(const common::Action& action, const wisp::v1::ActivationMessage& msg,
                    const Arguments& args, int64_t deadline_ms) {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    Key(w, "value");
    w.RawValue(args.value_json.data(), args.value_json.size(), rapidjson::kObjectType);
    Key(w, "namespace");
    Str(w, msg.user().namespace_name());
    Key(w, "action_name");
    Str(w, action.Fqn().ToString());
    Key(w, "action_version");
    Str(w, action.version.ToString());
    Key(w, "activation_id");
    Str(w, msg.activation_id());
    Key(w, "transaction_id");
    Str(w, msg.transid().id());
    Key(w, "deadline");
    Str(w, std::to_string(deadline_ms));
    if (ProvidesApiKey(action)) {
        std::string key = ApiKey(msg);
        if (!key.empty()) {
            Key(w, "api_key");
            Str(w, key);
        }
    }
    w.EndObject();
    return {buf.GetString(), buf.GetSize()};
}

/// A failed exchange (timeout, lost connection, non-200 answer) as OpenWhisk reports it.
ActivationResponse ExchangeFailure(Container& container, const ProxyResponse& r, bool init,
                                   int64_t timeout_ms, bool& timed_out) {
    if (r.failure == ProxyResponse::Failure::kTimeout ||
        (r.failure == ProxyResponse::Failure::kNone && r.ElapsedMs() >= timeout_ms)) {
        timed_out = true;
        return ActivationResponse::Error(ActivationStatus::kDeveloperError,
                                         messages::TimedOutActivation(timeout_ms, init));
    }
    if (r.failure == ProxyResponse::Failure::kNone && r.status == 200) {
        return ActivationResponse();  // an answer: interpreted by the caller
    }
    // A lost connection or an error answer may be the kernel's OOM killer at work.
    auto oom = container.WasOomKilled();
    if (oom.ok() && *oom) {
        return ActivationResponse::Error(ActivationStatus::kDeveloperError,
                                         messages::kMemoryExhausted);
    }
    if (r.failure == ProxyResponse::Failure::kConnectionLost) {
        return ActivationResponse::Error(
            ActivationStatus::kDeveloperError,
            init ? messages::kAbnormalInitialization : messages::kAbnormalRun);
    }
    return ActivationResponse();  // not a failure here
}

/// The outcome of an /init exchange that reached the proxy: its failure (timeout, lost
/// connection) or its non-200 answer; `o` is left as is when /init succeeded.
void InitAnswer(Container& container, const ProxyResponse& r, int64_t timeout_ms, InitOutcome& o) {
    bool timed_out = false;
    ActivationResponse failure = ExchangeFailure(container, r, true, timeout_ms, timed_out);
    if (failure.status != ActivationStatus::kSuccess) {
        o.ok = false;
        o.failure = std::move(failure);
        o.timed_out = timed_out;
    } else if (r.status != 200) {
        o.ok = false;
        o.failure = InitFailureResponse(r.body);
    }
}

/// What the pool needs to place `msg` (ActivationRunner::Run and InitKeepWarm alike).
ContainerRequest RequestFor(const wisp::v1::ActivationMessage& msg, const common::Action& action,
                            const std::string& revision, const ExecInfo& exec) {
    ContainerRequest request;
    request.invocation_namespace = msg.user().namespace_name();
    request.action = action.Fqn().DocId();
    request.revision = revision;
    request.kind = std::holds_alternative<common::CodeExec>(action.exec)
                       ? std::get<common::CodeExec>(action.exec).kind
                       : std::string(common::kBlackboxKind);
    request.image = exec.image;
    request.pull_if_missing = exec.pull_if_missing;
    request.memory_mb = action.limits.memory_mb;
    request.concurrency = static_cast<int>(std::max<int64_t>(1, action.limits.concurrency));
    request.name_hint = request.invocation_namespace + "_" + action.name;
    request.transaction_id = msg.transid().id();
    return request;
}

void AddStandardAnnotations(common::ActivationRecord& rec, const common::Action& action,
                            std::string_view kind, bool timed_out,
                            const wisp::v1::ActivationMessage& msg, std::optional<int64_t> init_ms,
                            std::optional<int64_t> wait_ms, std::string_view invoker) {
    auto& a = rec.annotations;
    if (!invoker.empty()) a.Set("invoker", JsonValue::String(invoker));
    a.Set("limits", LimitsValue(action.limits));
    a.Set("path", JsonValue::String(action.Fqn().DocId()));
    a.Set("kind", JsonValue::String(kind));
    a.Set("timeout", JsonValue::Bool(timed_out));
    if (!msg.cause().empty()) a.Set("causedBy", JsonValue::String("sequence"));
    if (init_ms) a.Set("initTime", JsonValue::Number(*init_ms));
    if (wait_ms) a.Set("waitTime", JsonValue::Number(std::max<int64_t>(0, *wait_ms)));
    if (!msg.action().binding().empty()) {
        a.Set("binding", JsonValue::String(msg.action().binding()));
    }
}

}  // namespace

std::string FormatIsoTime(int64_t epoch_ms) {
    time_t secs = static_cast<time_t>(epoch_ms / 1000);
    int ms = static_cast<int>(epoch_ms % 1000);
    if (ms < 0) {
        ms += 1000;
        --secs;
    }
    struct tm tm {};
    gmtime_r(&secs, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

std::string FormatLogLine(const LogLine& line) {
    return fmt::format("{:<30} {}: {}", line.time, line.stream, line.text);
}

common::ActivationRecord FallbackActivationRecord(const wisp::v1::ActivationMessage& msg,
                                                  common::ActivationResponse response,
                                                  int64_t now_ms) {
    common::SemVer version;
    if (!msg.action().version().empty()) {
        auto parsed = common::SemVer::Parse(msg.action().version());
        if (parsed.ok()) version = *parsed;
    }
    auto rec = BaseRecord(msg, msg.action().name(), version);
    rec.start_ms = now_ms;
    rec.end_ms = now_ms;
    rec.duration_ms = 0;
    rec.response = std::move(response);
    const std::string path = msg.action().path().empty()
                                 ? msg.action().name()
                                 : msg.action().path() + "/" + msg.action().name();
    rec.annotations.Set("path", JsonValue::String(path));
    rec.annotations.Set("kind", JsonValue::String(kUnknownKind));
    if (!msg.cause().empty()) rec.annotations.Set("causedBy", JsonValue::String("sequence"));
    return rec;
}

ActivationRunner::ActivationRunner(ContainerPool& pool, const common::RuntimeManifest& manifest,
                                   common::Clock& clock, ActivationRunnerConfig config)
    : pool_(pool), manifest_(manifest), clock_(clock), config_(config) {}

ActivationOutcome ActivationRunner::Run(const wisp::v1::ActivationMessage& msg,
                                        const common::Action& action, const std::string& revision,
                                        const ResultCallback& on_result) {
    ActivationOutcome out;
    auto& rec = out.record;
    rec = BaseRecord(msg, action.name, action.version);
    const int64_t timeout_ms = action.limits.timeout_ms;
    const int64_t wait_start = WaitStartMs(msg);
    auto wait_time = [&](int64_t container_call_ms) -> std::optional<int64_t> {
        if (wait_start <= 0) return std::nullopt;
        return container_call_ms - wait_start;
    };
    auto finish_without_container = [&](ActivationResponse response) {
        const int64_t now = clock_.NowMs();
        rec.start_ms = now;
        rec.end_ms = now;
        rec.response = std::move(response);
        out.developer_error = rec.response.status == ActivationStatus::kDeveloperError;
        AddStandardAnnotations(rec, action, common::ExecKind(action.exec), false, msg, std::nullopt,
                               wait_time(now), config_.invoker_annotation);
        if (on_result) on_result(rec, false);
        return out;
    };

    ExecInfo exec = ResolveExec(action, manifest_);
    if (!exec.error.empty()) {
        return finish_without_container(
            ActivationResponse::Error(ActivationStatus::kWhiskError, exec.error));
    }
    if (exec.pull_if_missing) {
        // A blackbox image from a registry: checked again here (the controller did at PUT; a
        // stored action may predate that), and against the operator's allow list.
        auto ref = common::ParseImageRef(exec.image);
        if (!ref.ok()) {
            return finish_without_container(ActivationResponse::Error(
                ActivationStatus::kDeveloperError, std::string(ref.status().message())));
        }
        if (!common::ImageAllowed(exec.image, config_.allowed_images)) {
            return finish_without_container(ActivationResponse::Error(
                ActivationStatus::kDeveloperError, messages::ImageNotAllowed(exec.image)));
        }
    }

    const ContainerRequest request = RequestFor(msg, action, revision, exec);
    auto lease = pool_.Acquire(request);
    if (!lease.ok()) {
        common::TidLog(msg.transid().id())
            .warn("activation {}: no container for {}: {}", msg.activation_id(), request.action,
                  lease.status().ToString());
        const auto code = lease.status().code();
        if (exec.pull_if_missing && (code == absl::StatusCode::kNotFound ||
                                     code == absl::StatusCode::kFailedPrecondition)) {
            return finish_without_container(ActivationResponse::Error(
                ActivationStatus::kDeveloperError, messages::ImagePullError(exec.image)));
        }
        return finish_without_container(ActivationResponse::Error(
            ActivationStatus::kWhiskError, messages::kResourceProvisionError));
    }
    out.source = lease->source();
    out.container_id = lease->container_id();
    Container& container = lease->container();
    Arguments args = SplitArguments(msg, action);

    // /init, once per container.
    int64_t init_start = 0;
    int64_t init_end = 0;
    auto [ran_init, init] = lease->InitOnce([&]() {
        InitOutcome o;
        init_start = clock_.NowMs();
        auto r = container.Init(InitBody(action, exec, msg, args, init_start + timeout_ms),
                                std::chrono::milliseconds(timeout_ms));
        init_end = clock_.NowMs();
        if (!r.ok()) {
            o.ok = false;
            o.failure = ActivationResponse::Error(ActivationStatus::kWhiskError,
                                                  messages::kResourceProvisionError);
            common::TidLog(msg.transid().id())
                .warn("/init of container {} failed locally: {}", out.container_id,
                      r.status().ToString());
            return o;
        }
        InitAnswer(container, *r, timeout_ms, o);
        return o;
    });
    out.cold_start = ran_init;
    std::optional<int64_t> init_ms;
    if (ran_init) init_ms = init_end - init_start;

    if (!init.ok) {
        const int64_t now = clock_.NowMs();
        rec.start_ms = ran_init ? init_start : now;
        rec.end_ms = ran_init ? init_end : now;
        rec.response = init.failure;
        out.developer_error = true;
        AddStandardAnnotations(rec, action, exec.kind, init.timed_out, msg, init_ms,
                               wait_time(rec.start_ms), config_.invoker_annotation);
        if (on_result) on_result(rec, false);
        pool_.Release(std::move(*lease), ContainerPool::Outcome::kDestroy);
        return out;
    }

    // /run.
    const int64_t run_start = clock_.NowMs();
    auto r = container.Run(RunBody(action, msg, args, run_start + timeout_ms),
                           std::chrono::milliseconds(timeout_ms));
    const int64_t run_end = clock_.NowMs();
    bool timed_out = false;
    if (!r.ok()) {
        common::TidLog(msg.transid().id())
            .warn("/run of container {} failed locally: {}", out.container_id,
                  r.status().ToString());
        rec.response = ActivationResponse::Error(ActivationStatus::kWhiskError,
                                                 messages::kResourceProvisionError);
    } else {
        ActivationResponse failure = ExchangeFailure(container, *r, false, timeout_ms, timed_out);
        rec.response = failure.status != ActivationStatus::kSuccess ? std::move(failure)
                                                                    : RunResponse(*r, config_);
    }
    rec.start_ms = ran_init ? init_start : run_start;
    rec.end_ms = run_end;
    const auto status = rec.response.status;
    out.developer_error =
        status == ActivationStatus::kDeveloperError || status == ActivationStatus::kWhiskError;
    AddStandardAnnotations(rec, action, exec.kind, timed_out, msg, init_ms,
                           wait_time(ran_init ? init_start : run_start),
                           config_.invoker_annotation);

    const bool collect_logs =
        !out.developer_error && action.limits.logs_mb > 0 && action.limits.concurrency <= 1;
    // The result goes ahead of the logs only when they take time to collect: with the logs in
    // the /run answer one ack carries both (one bus round trip less per blocking invoke).
    const bool logs_pending = collect_logs && !container.LogsAtHand();
    if (on_result) on_result(rec, logs_pending);

    if (collect_logs) {
        const int64_t limit_bytes = action.limits.logs_mb * 1048576;
        auto logs =
            container.CollectLogs(exec.sentinelled ? 2 : 0, limit_bytes, config_.log_idle_wait);
        if (logs.ok()) {
            rec.logs.reserve(logs->lines.size() + 1);
            for (const auto& line : logs->lines) rec.logs.push_back(FormatLogLine(line));
            if (logs->truncated) {
                rec.logs.push_back(FormatLogLine({FormatIsoTime(clock_.NowMs()), "stderr",
                                                  messages::TruncateLogs(limit_bytes)}));
            } else if (!logs->complete) {
                rec.logs.push_back(FormatLogLine(
                    {FormatIsoTime(clock_.NowMs()), "stderr", std::string(messages::kLogFailure)}));
            }
        } else {
            common::TidLog(msg.transid().id())
                .warn("collecting logs of container {} failed: {}", out.container_id,
                      logs.status().ToString());
            rec.logs.push_back(FormatLogLine(
                {FormatIsoTime(clock_.NowMs()), "stderr", std::string(messages::kLogFailure)}));
        }
        out.logs_collected = true;
    }
    pool_.Release(std::move(*lease), out.developer_error ? ContainerPool::Outcome::kDestroy
                                                         : ContainerPool::Outcome::kKeep);
    return out;
}

absl::StatusOr<ContainerRequest> ActivationRunner::KeepWarmRequest(
    const wisp::v1::ActivationMessage& msg, const common::Action& action,
    const std::string& revision) const {
    ExecInfo exec = ResolveExec(action, manifest_);
    if (!exec.error.empty()) return absl::FailedPreconditionError(exec.error);
    if (exec.pull_if_missing && !common::ImageAllowed(exec.image, config_.allowed_images)) {
        return absl::FailedPreconditionError(messages::ImageNotAllowed(exec.image));
    }
    return RequestFor(msg, action, revision, exec);
}

absl::Status ActivationRunner::InitKeepWarm(const wisp::v1::ActivationMessage& msg,
                                            const common::Action& action,
                                            const std::string& revision) {
    ExecInfo exec = ResolveExec(action, manifest_);
    if (!exec.error.empty()) return absl::FailedPreconditionError(exec.error);
    if (exec.pull_if_missing && !common::ImageAllowed(exec.image, config_.allowed_images)) {
        return absl::FailedPreconditionError(messages::ImageNotAllowed(exec.image));
    }
    auto lease = pool_.AcquireKeepWarm(RequestFor(msg, action, revision, exec));
    if (!lease.ok()) return lease.status();
    Container& container = lease->container();
    const std::string container_id = lease->container_id();
    const Arguments args = SplitArguments(msg, action);
    const int64_t timeout_ms = action.limits.timeout_ms;
    auto [ran_init, init] = lease->InitOnce([&]() {
        InitOutcome o;
        const int64_t start = clock_.NowMs();
        auto r = container.Init(InitBody(action, exec, msg, args, start + timeout_ms),
                                std::chrono::milliseconds(timeout_ms));
        if (!r.ok()) {
            o.ok = false;
            o.failure = ActivationResponse::Error(ActivationStatus::kWhiskError,
                                                  std::string(r.status().message()));
            return o;
        }
        InitAnswer(container, *r, timeout_ms, o);
        return o;
    });
    (void)ran_init;
    if (!init.ok) {
        pool_.Release(std::move(*lease), ContainerPool::Outcome::kDestroy);
        return absl::FailedPreconditionError(
            fmt::format("/init of keep-warm container {} failed: {}", container_id,
                        init.failure.result ? init.failure.result->text() : std::string()));
    }
    pool_.Release(std::move(*lease), ContainerPool::Outcome::kKeep);
    return absl::OkStatus();
}

}  // namespace wisp::invoker
