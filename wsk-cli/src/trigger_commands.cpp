// wsk trigger create/update/fire/get/delete/list, and the feed lifecycle calls.
#include "commands.hpp"

#include "command_support.hpp"
#include "json_out.hpp"
#include "output.hpp"
#include "put_body.hpp"

namespace wsk {

using rapidjson::Value;

namespace {

Status InvokeFeed(Session& s, const std::string& feed, const std::string& lifecycle,
                  const QualifiedName& trigger, bool print) {
    auto fq = Name(feed);
    if (!fq.ok()) return fq.error();
    std::vector<std::string> texts = s.kv.params;
    texts.push_back(KeyValueJson("lifecycleEvent", QuoteJson(lifecycle)));
    texts.push_back(
        KeyValueJson("triggerName", QuoteJson("/" + trigger.ns + "/" + trigger.entity_name)));
    texts.push_back(KeyValueJson("authKey", QuoteJson(s.config.auth)));
    rapidjson::Document payload(rapidjson::kObjectType);
    if (auto e = ParamsObject(texts, payload, payload.GetAllocator())) return e;
    RequestOptions opts;
    opts.exit_on_timeout = true;
    auto r = s.client->Do("POST", Collection(*fq, "actions") + "?blocking=true&result=false",
                          CompactJson(payload), opts);
    if (!r.ok()) {
        if (r.error().application_error) *s.err << PrettyJson(s.client->last_response().json);
        return r.error();
    }
    if (print) {
        Print(s, Ok() + "invoked " + Bold("/" + fq->ns) + "/" + Bold(fq->entity_name) +
                     " with id " + Bold(ActivationIdOf(r->json)) + "\n" + PrettyJson(r->json));
    }
    return std::nullopt;
}

std::string FeedOf(const rapidjson::Value& trigger) {
    if (!trigger.IsObject() || !trigger.HasMember("annotations")) return "";
    const Value* v = FindKeyValue(trigger["annotations"], "feed");
    return v != nullptr && v->IsString() ? v->GetString() : "";
}

}  // namespace

Status TriggerCreate(Session& s, const std::vector<std::string>& args, const std::string& feed,
                     bool update) {
    if (auto e = CheckArgs(args, 1, 1, "A trigger name is required.")) return e;
    auto q = Name(args[0]);
    if (!q.ok()) return q.error();
    const std::string path = Collection(*q, "triggers");
    if (update) {
        auto existing = s.client->Do("GET", path, std::nullopt);
        if (!existing.ok() && existing.error().exit_code == 148) {
            return TriggerCreate(s, args, feed, false);
        }
        if (!existing.ok()) {
            return existing.error().Wrap("Unable to get trigger '" + q->entity_name + "'");
        }
        const std::string existing_feed = FeedOf(existing->json);
        if (!existing_feed.empty()) {
            if (auto e = InvokeFeed(s, existing_feed, "UPDATE", *q, false)) {
                return e->Wrap("Unable to create trigger '" + q->entity_name + "'");
            }
            Print(s, Ok() + "updated trigger " + Bold(q->entity_name) + "\n");
            return std::nullopt;
        }
    }
    PutBody body;
    body.SetName(*q, false);
    std::vector<std::string> annot_texts = s.kv.annotations;
    std::string feed_fqn;
    if (!feed.empty() && !update) {
        auto fq = Name(feed);
        if (!fq.ok()) return fq.error();
        feed_fqn = "/" + fq->ns + "/" + fq->entity_name;
        annot_texts.push_back(KeyValueJson("feed", QuoteJson(feed_fqn)));
    }
    if (auto e = body.AddAnnotations(annot_texts)) return e;
    if (feed_fqn.empty()) {
        if (auto e = body.AddParameters(s.kv.params)) return e;
    }
    auto r = s.client->Do("PUT", path + "?overwrite=" + BoolText(update), body.Finish());
    if (!r.ok()) {
        return r.error().Wrap(
            (update ? "Unable to update trigger '" : "Unable to create trigger '") +
            q->entity_name + "'");
    }
    if (!feed_fqn.empty()) {
        if (auto e = InvokeFeed(s, feed_fqn, "CREATE", *q, true)) {
            (void)s.client->Do("DELETE", path, std::nullopt);
            return e->Wrap("Unable to configure feed '" + feed_fqn + "'")
                .Wrap("Unable to create trigger '" + q->entity_name + "'");
        }
    }
    Print(s, Ok() + (update ? "updated" : "created") + " trigger " + Bold(q->entity_name) + "\n");
    return std::nullopt;
}

Status TriggerFire(Session& s, const std::vector<std::string>& args) {
    if (auto e = CheckArgs(args, 1, 1, "A trigger name is required.")) return e;
    auto q = Name(args[0]);
    if (!q.ok()) return q.error();
    rapidjson::Document payload(rapidjson::kObjectType);
    if (auto e = ParamsObject(s.kv.params, payload, payload.GetAllocator())) return e;
    auto r = s.client->Do("POST", Collection(*q, "triggers"), CompactJson(payload));
    if (!r.ok()) return r.error().Wrap("Unable to fire trigger '" + q->entity_name + "'");
    Print(s, Ok() + "triggered " + Bold("/" + q->ns) + "/" + Bold(q->entity_name) + " with id " +
                 Bold(ActivationIdOf(r->json)) + "\n");
    return std::nullopt;
}

Status TriggerGet(Session& s, const std::vector<std::string>& args, bool summary) {
    return EntityGet(s, args, summary, "trigger", "triggers", EntityKind::kTrigger, TriggerShape());
}

Status TriggerDelete(Session& s, const std::vector<std::string>& args) {
    if (auto e = CheckArgs(args, 1, 1, "A trigger name is required.")) return e;
    auto q = Name(args[0]);
    if (!q.ok()) return q.error();
    const std::string path = Collection(*q, "triggers");
    auto existing = s.client->Do("GET", path, std::nullopt);
    if (!existing.ok()) {
        return existing.error().Wrap("Unable to delete trigger '" + q->entity_name + "'");
    }
    const std::string feed = FeedOf(existing->json);
    if (!feed.empty()) {
        if (auto e = InvokeFeed(s, feed, "DELETE", *q, false)) {
            return e->Wrap("Unable to delete trigger '" + q->entity_name + "'");
        }
    }
    auto r = s.client->Do("DELETE", path, std::nullopt);
    if (!r.ok()) return r.error().Wrap("Unable to delete trigger '" + q->entity_name + "'");
    Print(s, Ok() + "deleted trigger " + Bold(q->entity_name) + "\n");
    return std::nullopt;
}

Status TriggerList(Session& s, const std::vector<std::string>& args, const ListFlags& f) {
    return EntityList(s, args, f, "triggers", "triggers", EntityKind::kTrigger);
}

}  // namespace wsk
