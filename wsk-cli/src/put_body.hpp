#pragma once
// The JSON body of an entity create/update PUT, built from the flags that actions, triggers and
// packages share: -p/-P parameters, -a/-A annotations, --del-annotation and the action limits.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

#include "entity_args.hpp"
#include "wsk_error.hpp"

namespace wsk {

/// Members are written in the reference CLI's order: the head members (namespace, name,
/// publish, exec, in the order added), annotations, delAnnotations, parameters, limits, then
/// the tail members (binding). Empty parameters/annotations and absent limits are left out.
class PutBody {
  public:
    struct Limits {
        std::optional<int> timeout, memory, logs, concurrency;
    };

    PutBody();

    rapidjson::Document::AllocatorType& alloc() { return doc_.GetAllocator(); }

    /// "namespace" (with `with_namespace`) and "name".
    void SetName(const QualifiedName& q, bool with_namespace = true);
    /// A member written before the annotations ("publish", "exec").
    void Add(const char* key, rapidjson::Value value);
    /// A member written after everything else ("binding").
    void AddLast(const char* key, rapidjson::Value value);

    /// Appends -p texts (key and JSON value pairs), with the reference CLI's
    /// "Invalid parameter argument '[]string{...}'" error.
    [[nodiscard]] Status AddParameters(const std::vector<std::string>& texts);
    /// Appends -a texts, with "Invalid annotation argument '[]string{...}'".
    [[nodiscard]] Status AddAnnotations(const std::vector<std::string>& texts);
    /// The key-value arrays so far, to extend or edit (copied entities, --web).
    rapidjson::Value& parameters() { return parameters_; }
    rapidjson::Value& annotations() { return annotations_; }

    /// "delAnnotations" (left out when empty).
    void SetDelAnnotations(std::vector<std::string> keys) { del_annotations_ = std::move(keys); }
    /// "limits" with the given fields (left out when none is given).
    void SetLimits(const Limits& limits) { limits_ = limits; }

    /// The compact JSON text. Call once: the members move into the document.
    std::string Finish();

  private:
    rapidjson::Document doc_;
    rapidjson::Value parameters_;
    rapidjson::Value annotations_;
    std::vector<std::string> del_annotations_;
    Limits limits_;
    std::vector<std::pair<std::string, rapidjson::Value>> last_;
};

}  // namespace wsk
