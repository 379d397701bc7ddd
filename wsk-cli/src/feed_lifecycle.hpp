#pragma once
// The client side of OpenWhisk's feed protocol (the Go CLI's commands/trigger.go), shared by
// `wsk trigger` and `wsk project deploy|undeploy`: the feed action is invoked blocking with the
// user's parameters plus lifecycleEvent, triggerName and authKey; the controller only stores the
// trigger's `feed` annotation.
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "commands.hpp"

namespace wsk {

/// How a feed invoke is shown.
enum class FeedOutput {
    kQuiet,             // nothing printed (project deploy): the error carries the text
    kRecord,            // the activation record (trigger get/update/delete)
    kInvokedAndRecord,  // "ok: invoked /ns/feed with id ID" then the record (trigger create)
};

/// Go's MakeWskErrorFromWskError: "<context>: <inner message>" with the inner error's exit code
/// and flags, so an application error or a still-running invoke (already printed) stays silent.
WskError NestError(const WskError& inner, const std::string& context);

/// `texts` (JSON object texts), then lifecycleEvent, triggerName ("/<ns>/<name>") and authKey:
/// the lifecycle keys come last and override user keys of the same name.
std::vector<std::string> WithLifecycle(std::vector<std::string> texts, const char* event,
                                       const QualifiedName& trigger, const Session& s);

/// The blocking invoke (?blocking=true&result=false) of a feed action with one JSON object made
/// of `texts`. Printed as the Go CLI prints it unless kQuiet: success -> the record on stdout
/// (after the "ok: invoked" line with kInvokedAndRecord); an application error -> the record on
/// stderr; still running -> "ok: invoked ..., but the request has not yet finished" on stderr.
[[nodiscard]] Status InvokeFeed(Session& s, const QualifiedName& feed,
                                const std::vector<std::string>& texts, FeedOutput output);

/// Go's configureFeed: the feed named by a trigger's annotation (a "/ns/name" text); error
/// "Unable to configure feed '<feed>': ...".
[[nodiscard]] Status ConfigureFeed(Session& s, const std::string& feed,
                                   const std::vector<std::string>& texts,
                                   FeedOutput output = FeedOutput::kRecord);

/// The `feed` annotation of a trigger entity, or "".
std::string FeedOf(const rapidjson::Value& trigger);

}  // namespace wsk
