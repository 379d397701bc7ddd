#include "feed_lifecycle.hpp"

#include "command_support.hpp"
#include "json_out.hpp"
#include "output.hpp"

namespace wsk {

using rapidjson::Value;

WskError NestError(const WskError& inner, const std::string& context) {
    WskError e = inner;
    e.message = context + ": " + inner.message;
    return e;
}

std::vector<std::string> WithLifecycle(std::vector<std::string> texts, const char* event,
                                       const QualifiedName& trigger, const Session& s) {
    texts.push_back(KeyValueJson("lifecycleEvent", QuoteJson(event)));
    texts.push_back(
        KeyValueJson("triggerName", QuoteJson("/" + trigger.ns + "/" + trigger.entity_name)));
    texts.push_back(KeyValueJson("authKey", QuoteJson(s.config.auth)));
    return texts;
}

Status InvokeFeed(Session& s, const QualifiedName& feed, const std::vector<std::string>& texts,
                  FeedOutput output) {
    rapidjson::Document payload(rapidjson::kObjectType);
    if (auto e = ParamsObject(texts, payload, payload.GetAllocator())) return e;
    RequestOptions opts;
    opts.exit_on_timeout = true;
    auto r = s.client->Do("POST", Collection(feed, "actions") + "?blocking=true&result=false",
                          CompactJson(payload), opts);
    const std::string who = Bold("/" + feed.ns) + "/" + Bold(feed.entity_name);
    if (r.ok()) {
        if (output == FeedOutput::kQuiet) return std::nullopt;
        std::string text;
        if (output == FeedOutput::kInvokedAndRecord) {
            text = Ok() + "invoked " + who + " with id " + Bold(ActivationIdOf(r->json)) + "\n";
        }
        Print(s, text + PrettyJson(r->json));
        return std::nullopt;
    }
    WskError err = r.error();
    const auto& last = s.client->last_response().json;
    if (output == FeedOutput::kQuiet) {
        err.display_msg = true;
        if (err.timed_out) {
            err.message = "the feed action did not finish in time (activation id " +
                          ActivationIdOf(last) + ")";
        }
        return err;
    }
    if (err.timed_out) {
        *s.err << Ok() << "invoked " << who << ", but the request has not yet finished, with id "
               << Bold(ActivationIdOf(last)) << "\n"
               << std::flush;
    } else if (err.application_error) {
        *s.err << PrettyJson(last) << std::flush;
    }
    return err;
}

Status ConfigureFeed(Session& s, const std::string& feed, const std::vector<std::string>& texts,
                     FeedOutput output) {
    auto fq = Name(feed);
    if (!fq.ok()) return fq.error();
    auto e = InvokeFeed(s, *fq, texts, output);
    if (!e) return std::nullopt;
    WskError err = *e;
    if (!err.timed_out && !err.application_error) {
        err = NestError(err, "Unable to invoke action '" + fq->entity_name + "'");
    }
    return NestError(err, "Unable to configure feed '" + feed + "'");
}

std::string FeedOf(const rapidjson::Value& trigger) {
    if (!trigger.IsObject() || !trigger.HasMember("annotations")) return "";
    const Value* v = FindKeyValue(trigger["annotations"], "feed");
    return v != nullptr && v->IsString() ? v->GetString() : "";
}

}  // namespace wsk
