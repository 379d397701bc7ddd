// Firing a trigger (wire §4): the rules' activations and the trigger's record.
#include "trigger_firer.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <wisp/common/crypto.hpp>
#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/common/tid_log.hpp>

#include "replier.hpp"

namespace wisp::controller {

using common::ActivationRecord;
using common::ActivationStatus;
using common::JsonValue;
using common::Parameters;

common::ActivationId DeriveRuleActivationId(const common::ActivationId& trigger_id,
                                            std::string_view rule) {
    std::string seed = trigger_id.str();
    seed.push_back('\n');
    seed.append(rule);
    return common::ActivationId::Parse(common::Sha256Hex(seed).substr(0, 32)).value();
}

FireOutcome TriggerFirer::Fire(const FireRequest& req) {
    const common::Identity& who = req.who;
    FireOutcome outcome;
    if (req.activation_id) {
        auto stored = store_.GetActivation(who.namespace_name, *req.activation_id);
        if (stored.ok()) {
            outcome.fired = true;
            outcome.already_fired = true;
            outcome.activation_id = *req.activation_id;
            return outcome;
        }
        if (!absl::IsNotFound(stored.status())) {
            outcome.status = stored.status();
            return outcome;
        }
    }
    auto trigger = store_.Get<common::Trigger>(req.trigger);
    if (!trigger.ok()) {
        outcome.status = trigger.status();
        return outcome;
    }
    std::vector<std::pair<std::string, common::ReducedRule>> active;
    for (const auto& [name, link] : trigger->doc.rules) {
        if (link.status == common::RuleStatus::kActive) active.emplace_back(name, link);
    }
    if (active.empty()) return outcome;  // fired = false: 204, no record

    // Arguments: trigger parameters < {"__ow_headers"} < fire body.
    Parameters base = trigger->doc.parameters;
    {
        rapidjson::StringBuffer sb;
        rapidjson::Writer<rapidjson::StringBuffer> w(sb);
        w.StartObject();
        for (const auto& [k, v] : req.headers) {
            if (k == "authorization") continue;  // credentials never reach action arguments
            w.Key(k.c_str());
            w.String(v.c_str());
        }
        w.EndObject();
        base.Set("__ow_headers", JsonValue::Parse(sb.GetString()).value());
    }
    if (req.args && req.args->IsObject()) {
        auto body = Parameters::FromObjectJson(req.args->text());
        if (body.ok()) base = base.Merge(*body);
    }
    const JsonValue fire_args = JsonValue::Parse(base.ToObjectJson()).value();

    ActivationRecord rec;
    rec.namespace_path = common::EntityPath({who.namespace_name});
    rec.name = req.trigger.name;
    rec.subject = who.subject;
    rec.activation_id = req.activation_id ? *req.activation_id : common::ActivationId::Generate();
    rec.start_ms = clock_.NowMs();
    rec.version = trigger->doc.version;
    rec.annotations = req.annotations;
    rec.response.status = ActivationStatus::kSuccess;
    rec.response.result = req.args ? *req.args : JsonValue::EmptyObject();

    for (const auto& active_rule : active) {
        // Not a structured binding: clang before 16 cannot capture those in write_line.
        const std::string& rule_name = active_rule.first;
        const common::ReducedRule& link = active_rule.second;
        rapidjson::StringBuffer sb;
        rapidjson::Writer<rapidjson::StringBuffer> w(sb);
        auto write_line = [&](int status_code, const common::ActivationId* id,
                              const std::string* error) {
            w.StartObject();
            w.Key("statusCode");
            w.Int(status_code);
            w.Key("success");
            w.Bool(status_code == 0);
            if (id) {
                w.Key("activationId");
                w.String(id->str().c_str());
            }
            w.Key("rule");
            w.String(rule_name.c_str());
            w.Key("action");
            w.String(link.action.DocId().c_str());
            if (error) {
                w.Key("error");
                w.String(error->c_str());
            }
            w.EndObject();
        };
        absl::Status st;
        auto resolved = resolver_.ResolveAction(who, link.action);
        if (!resolved.ok()) st = resolved.status();
        if (st.ok()) st = activator_.CheckInvokeThrottles(who);
        if (!st.ok()) {
            const std::string msg = ClientMessageFor(st, req.tid, "trigger rule");
            write_line(common::HttpStatusFor(st) >= 500 ? 3 : 1, nullptr, &msg);
            rec.logs.push_back(sb.GetString());
            continue;
        }
        ActivateRequest ar;
        ar.user = who;
        ar.content_json = MergeArguments(ArgumentParams(resolved->action), fire_args);
        ar.blocking = false;
        ar.tid = req.tid;
        ar.received_ms = req.received_ms;
        if (req.activation_id)
            ar.activation_id = DeriveRuleActivationId(rec.activation_id, rule_name);
        const bool sequence = std::holds_alternative<common::SequenceExec>(resolved->action.exec);
        ar.resolved = *std::move(resolved);
        ActivateOutcome activated;
        auto capture = [&activated](ActivateOutcome out) { activated = std::move(out); };
        if (sequence) {
            activator_.RunSequence(std::move(ar), capture);  // non-blocking: answers at once
        } else {
            activator_.Activate(std::move(ar), capture);
        }
        if (activated.status.ok()) {
            write_line(0, &activated.activation_id, nullptr);
        } else {
            const std::string msg = ClientMessageFor(activated.status, req.tid, "trigger rule");
            write_line(common::HttpStatusFor(activated.status) >= 500 ? 3 : 1, nullptr, &msg);
        }
        rec.logs.push_back(sb.GetString());
    }
    if (who.limits.store_activations.value_or(true)) {
        // A preset id is created only if absent: of two firings of one schedule slot (a
        // controller that took over a claim), the first record stays.
        absl::Status st =
            req.activation_id ? store_.CreateActivation(rec) : store_.PutActivation(rec);
        if (absl::IsAlreadyExists(st)) st = absl::OkStatus();
        if (!st.ok()) {
            common::TidLog(req.tid).error("storing trigger activation {} failed: {}; retrying",
                                          rec.activation_id.str(), common::MessageOf(st));
            activator_.StoreLater(rec);
        }
    }
    outcome.fired = true;
    outcome.activation_id = rec.activation_id;
    return outcome;
}

}  // namespace wisp::controller
