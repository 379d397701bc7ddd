// wsk trigger create/update/fire/get/delete/list, and the feed lifecycle calls, as the Go CLI
// (apache/openwhisk-cli commands/trigger.go) makes them: the client orchestrates the feed; the
// controller only stores the `feed` annotation.
#include "commands.hpp"

#include "command_support.hpp"
#include "feed_lifecycle.hpp"
#include "json_out.hpp"
#include "output.hpp"
#include "put_body.hpp"

namespace wsk {

using rapidjson::Value;

namespace {

constexpr const char* kCombineUsage =
    "Incorrect usage. Cannot combine --feed-param or --trigger-param flag with neither --param "
    "nor --param-file flag";
constexpr const char* kFeedParamsWithoutFeed =
    "Incorrect usage. Trigger without a feed cannot have feed parameters";

WskError NotAllowed(std::string msg) { return WskError{std::move(msg), kExitNotAllowed}; }

/// -F/-T given: the Go CLI's "extended" create/update (trigger and feed parameters apart).
bool Extended(const KeyValueArgs& kv) {
    return kv.params.empty() && (!kv.feed_params.empty() || !kv.trigger_params.empty());
}

/// `wsk trigger delete`: GET, the feed's DELETE when the trigger has a feed (its failure is
/// printed but does not stop the delete: stop the firing first), then DELETE the trigger.
[[nodiscard]] Status DeleteWithFeed(Session& s, const QualifiedName& q) {
    const std::string path = Collection(q, "triggers");
    auto existing = s.client->Do("GET", path, std::nullopt);
    if (!existing.ok()) {
        return existing.error().Wrap("Unable to get trigger '" + q.entity_name + "'");
    }
    const std::string feed = FeedOf(existing->json);
    if (!feed.empty()) {
        (void)ConfigureFeed(s, feed, WithLifecycle(s.kv.params, "DELETE", q, s));
    }
    auto r = s.client->Do("DELETE", path, std::nullopt);
    if (!r.ok()) return r.error().Wrap("Unable to delete trigger '" + q.entity_name + "'");
    Print(s, Ok() + "deleted trigger " + Bold(q.entity_name) + "\n");
    return std::nullopt;
}

[[nodiscard]] Status Create(Session& s, const std::vector<std::string>& args,
                            const std::string& feed) {
    if (auto e = CheckArgs(args, 1, 1, "A trigger name is required.")) return e;
    const KeyValueArgs& kv = s.kv;
    const bool extended = Extended(kv);
    auto q = Name(args[0]);
    if (!q.ok()) return q.error();
    if (!extended && (!kv.feed_params.empty() || !kv.trigger_params.empty())) {
        return NotAllowed(kCombineUsage);
    }
    std::optional<QualifiedName> fq;
    if (!feed.empty()) {
        auto f = Name(feed);
        if (!f.ok()) return f.error();
        fq = *f;
    }
    if (extended && !fq && !kv.feed_params.empty()) return NotAllowed(kFeedParamsWithoutFeed);

    PutBody body;
    body.SetName(*q, false);
    std::vector<std::string> annotations = kv.annotations;
    std::string feed_fqn;
    if (fq) {
        feed_fqn = "/" + fq->ns + "/" + fq->entity_name;
        annotations.push_back(KeyValueJson("feed", QuoteJson(feed_fqn)));
    }
    if (auto e = body.AddAnnotations(annotations)) return e;
    // With --feed, -p goes to the feed only; -T always goes to the trigger.
    if (extended) {
        if (auto e = body.AddParameters(kv.trigger_params)) return e;
    } else if (!fq) {
        if (auto e = body.AddParameters(kv.params)) return e;
    }
    auto r = s.client->Do("PUT", Collection(*q, "triggers") + "?overwrite=false", body.Finish());
    if (!r.ok()) return r.error().Wrap("Unable to create trigger '" + q->entity_name + "'");
    if (fq) {
        const auto& feed_params = extended ? kv.feed_params : kv.params;
        if (auto e = InvokeFeed(s, *fq, WithLifecycle(feed_params, "CREATE", *q, s),
                                FeedOutput::kInvokedAndRecord)) {
            WskError err = NestError(NestError(*e, "Unable to configure feed '" + feed_fqn + "'"),
                                     "Unable to create trigger '" + q->entity_name + "'");
            // The trigger created for this feed goes again (feed DELETE included); errors there
            // are ignored, as the Go CLI does.
            (void)DeleteWithFeed(s, *q);
            return err;
        }
    }
    Print(s, Ok() + "created trigger " + Bold(q->entity_name) + "\n");
    return std::nullopt;
}

[[nodiscard]] Status Update(Session& s, const std::vector<std::string>& args) {
    if (auto e = CheckArgs(args, 1, 1, "A trigger name is required.")) return e;
    const KeyValueArgs& kv = s.kv;
    auto q = Name(args[0]);
    if (!q.ok()) return q.error();
    const std::string path = Collection(*q, "triggers");
    auto existing = s.client->Do("GET", path, std::nullopt);
    if (!existing.ok() && existing.error().exit_code == 148) return Create(s, args, "");
    if (!existing.ok()) {
        return existing.error().Wrap("Unable to get trigger '" + q->entity_name + "'");
    }
    const std::string feed = FeedOf(existing->json);
    const std::string updated = Ok() + "updated trigger " + Bold(q->entity_name) + "\n";
    const std::string feed_failed = "Unable to create trigger '" + q->entity_name + "'";  // sic
    if (Extended(kv)) {
        // -T replaces the trigger's parameters; -F goes to the feed's UPDATE.
        PutBody body;
        body.SetName(*q, false);
        if (auto e = body.AddAnnotations(kv.annotations)) return e;
        if (auto e = body.AddParameters(kv.trigger_params)) return e;
        auto r = s.client->Do("PUT", path + "?overwrite=true", body.Finish());
        if (!r.ok()) return r.error().Wrap("Unable to update trigger '" + q->entity_name + "'");
        if (feed.empty() && !kv.feed_params.empty()) {
            return WskError::General("Unable to configure feed '" + q->entity_name +
                                     "': this trigger does not contain a feed");
        }
        if (!feed.empty() && !kv.feed_params.empty()) {
            if (auto e = ConfigureFeed(s, feed, WithLifecycle(kv.feed_params, "UPDATE", *q, s))) {
                return NestError(*e, feed_failed);
            }
        }
        Print(s, updated);
        return std::nullopt;
    }
    if (!kv.feed_params.empty() || !kv.trigger_params.empty()) return NotAllowed(kCombineUsage);
    if (!feed.empty()) {
        // A feed trigger: -p goes to the feed's UPDATE; the trigger entity is left as it is.
        if (auto e = ConfigureFeed(s, feed, WithLifecycle(kv.params, "UPDATE", *q, s))) {
            return NestError(*e, feed_failed);
        }
    } else {
        PutBody body;
        body.SetName(*q, false);
        if (auto e = body.AddAnnotations(kv.annotations)) return e;
        if (auto e = body.AddParameters(kv.params)) return e;
        auto r = s.client->Do("PUT", path + "?overwrite=true", body.Finish());
        if (!r.ok()) return r.error().Wrap("Unable to update trigger '" + q->entity_name + "'");
    }
    Print(s, updated);
    return std::nullopt;
}

}  // namespace

Status TriggerCreate(Session& s, const std::vector<std::string>& args, const std::string& feed,
                     bool update) {
    return update ? Update(s, args) : Create(s, args, feed);
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
    if (auto e = CheckArgs(args, 1, 2, "A trigger name is required.")) return e;
    auto q = Name(args[0]);
    if (!q.ok()) return q.error();
    auto r = s.client->Do("GET", Collection(*q, "triggers"), std::nullopt);
    if (!r.ok()) return r.error().Wrap("Unable to get trigger '" + q->entity_name + "'");
    if (const std::string feed = FeedOf(r->json); !feed.empty()) {
        // A feed trigger shows the feed's READ record only (no entity, --summary and the field
        // filter ignored); a failed READ is printed and still exits 0, as the Go CLI.
        (void)ConfigureFeed(s, feed, WithLifecycle(s.kv.params, "READ", *q, s));
        return std::nullopt;
    }
    if (summary) {
        Print(s, FormatSummary(EntityKind::kTrigger, r->json));
    } else if (args.size() > 1 && r->json.IsObject() && r->json.HasMember(args[1].c_str())) {
        Print(s, Ok() + "got trigger " + Bold(q->entity_name) + ", displaying field " +
                     Bold(args[1]) + "\n" + PrettyJson(r->json[args[1].c_str()]));
    } else {
        Print(s, Ok() + "got trigger " + Bold(q->entity_name) + "\n" +
                     PrettyJson(r->json, TriggerShape()));
    }
    return std::nullopt;
}

Status TriggerDelete(Session& s, const std::vector<std::string>& args) {
    if (auto e = CheckArgs(args, 1, 1, "A trigger name is required.")) return e;
    auto q = Name(args[0]);
    if (!q.ok()) return q.error();
    return DeleteWithFeed(s, *q);
}

Status TriggerList(Session& s, const std::vector<std::string>& args, const ListFlags& f) {
    return EntityList(s, args, f, "triggers", "triggers", EntityKind::kTrigger);
}

}  // namespace wsk
