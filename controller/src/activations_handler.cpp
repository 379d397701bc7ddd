// Activation records (wire §1.8): list with filters, get, result, logs.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <wisp/common/entity_json.hpp>
#include <wisp/common/json.hpp>
#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>

#include "activations_handler.hpp"
#include "entity_resolver.hpp"

namespace wisp::controller {

namespace {

constexpr int64_t kListDefault = 30;
constexpr int64_t kListMax = 200;

[[nodiscard]] absl::Status ParseNonNegative(const HttpRequest& req, std::string_view name,
                                            std::optional<int64_t>& out) {
    auto v = req.Query(name);
    if (!v) return absl::OkStatus();
    int64_t n = 0;
    if (!common::ParseInt(*v, n)) {
        return absl::InvalidArgumentError(
            common::Cat("The value '", *v, "' is not an integer for activations."));
    }
    out = n;
    return absl::OkStatus();
}

}  // namespace

void ActivationsHandler::Handle(const CallPtr& call, const std::string& ns,
                                const std::vector<std::string>& rest) {
    const common::Identity& who = *call->identity;
    if (call->req.method != "GET" && call->req.method != "HEAD") {
        return replier_.ReplyError(call, 405, MethodsNotAllowed("GET"));
    }
    if (auto st = CheckOwnNamespace(who, ns, ns); !st.ok()) return replier_.ReplyStatus(call, st);
    const auto& req = call->req;

    if (rest.empty()) {
        store::ActivationQuery q;
        q.namespace_name = ns;
        std::optional<int64_t> limit, skip;
        if (auto st = ParseNonNegative(req, "limit", limit); !st.ok()) {
            return replier_.ReplyStatus(call, st);
        }
        if (auto st = ParseNonNegative(req, "skip", skip); !st.ok())
            return replier_.ReplyStatus(call, st);
        q.limit = limit.value_or(kListDefault);
        if (q.limit == 0) q.limit = kListMax;
        if (q.limit < 0 || q.limit > kListMax) {
            return replier_.ReplyError(
                call, 400,
                common::Cat("The value '", *limit,
                            "' is not in the range of 0 to 200 for activations."));
        }
        q.skip = skip.value_or(0);
        if (q.skip < 0) {
            return replier_.ReplyError(
                call, 400,
                common::Cat("The value '", q.skip,
                            "' is not greater than or equal to 0 for activations."));
        }
        for (const char* name : {"since", "upto"}) {
            if (auto v = req.Query(name)) {
                int64_t n = 0;
                if (!common::ParseInt(*v, n) || n < 0) {
                    return replier_.ReplyError(
                        call, 400,
                        common::Cat("Parameter is not a valid value for epoch seconds: ", *v));
                }
                (std::string_view(name) == "since" ? q.since_ms : q.upto_ms) = n;
            }
        }
        if (auto v = req.Query("name")) {
            auto parts = common::Split(*v, '/');
            bool ok = !v->empty() && parts.size() <= 2;
            for (auto p : parts) ok = ok && common::IsValidEntityName(p);
            if (!ok) {
                return replier_.ReplyError(
                    call, 400,
                    common::Cat("Parameter may be a 'simple' name or 'package-name/simple' name: ",
                                *v));
            }
            q.name = *v;
        }
        const bool docs = req.Query("docs").value_or("") == "true";
        const bool count = req.Query("count").value_or("") == "true";
        if (count && docs) {
            return replier_.ReplyError(call, 400,
                                       "The parameter 'docs' is not permitted with 'count'.");
        }
        if (count) {
            auto n = store_.CountActivations(q);
            if (!n.ok()) return replier_.ReplyStatus(call, n.status());
            return replier_.ReplyJson(call, 200, common::Cat("{\"activations\":", *n, "}"));
        }
        auto list = store_.ListActivations(q);
        if (!list.ok()) return replier_.ReplyStatus(call, list.status());
        std::string body = "[";
        for (size_t i = 0; i < list->size(); ++i) {
            if (i > 0) body += ',';
            body += docs ? common::ActivationToJson((*list)[i], common::ActivationJsonForm::kApi)
                         : common::ActivationSummaryToJson((*list)[i]);
        }
        body += ']';
        return replier_.ReplyJson(call, 200, std::move(body));
    }

    if (rest.size() > 2) return replier_.ReplyError(call, 404, kMsgResourceNotFound);
    auto id = common::ActivationId::Parse(rest[0]);
    if (!id.ok()) return replier_.ReplyError(call, 400, "The activation id is not valid.");
    auto rec = store_.GetActivation(ns, *id);
    if (!rec.ok()) return replier_.ReplyStatus(call, rec.status());
    if (rest.size() == 1) {
        return replier_.ReplyJson(call, 200,
                                  common::ActivationToJson(*rec, common::ActivationJsonForm::kApi));
    }
    if (rest[1] == "result") {
        return replier_.ReplyJson(call, 200, common::ActivationResultToJson(rec->response));
    }
    if (rest[1] == "logs") {
        rapidjson::StringBuffer sb;
        rapidjson::Writer<rapidjson::StringBuffer> w(sb);
        w.StartObject();
        w.Key("logs");
        w.StartArray();
        for (const auto& line : rec->logs) {
            w.String(line.data(), static_cast<rapidjson::SizeType>(line.size()));
        }
        w.EndArray();
        w.EndObject();
        return replier_.ReplyJson(call, 200, sb.GetString());
    }
    replier_.ReplyError(call, 404, kMsgResourceNotFound);
}

}  // namespace wisp::controller
