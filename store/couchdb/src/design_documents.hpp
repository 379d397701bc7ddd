#pragma once
// The design documents (views) the CouchDB backend installs, named after OpenWhisk's
// (ansible/files/*design_document*.json). Map functions are plain ES5 JavaScript that CouchDB's
// and pouchdb-server's view servers both run.
#include <string>
#include <string_view>
#include <vector>

namespace wisp::store::couchdb {

enum class Database { kWhisks, kSubjects, kActivations };

struct ViewSpec {
    std::string_view name;
    std::string_view map;
    std::string_view reduce;  // empty = none
};

struct DesignDocument {
    Database db;
    std::string_view name;  // without "_design/"
    std::vector<ViewSpec> views;
};

// whisks: views "actions", "triggers", "rules", "packages" keyed [namespace, updated]; packaged
// entities are also emitted under their root namespace. Reduce _count.
inline constexpr std::string_view kWhisksDesign = "whisks.v2.1.0";
// subjects: "identities" keyed [uuid, key] and [namespace]; the value links "<ns>/limits".
inline constexpr std::string_view kSubjectsDesign = "subjects.v2.0.0";
inline constexpr std::string_view kIdentitiesView = "identities";
// activations: "activations" keyed [namespace, start] (whisks.v2.1.0) and
// [namespace/filterName, start] (whisks-filters.v2.1.1). Reduce _count.
inline constexpr std::string_view kActivationsDesign = "whisks.v2.1.0";
inline constexpr std::string_view kActivationsFiltersDesign = "whisks-filters.v2.1.1";
inline constexpr std::string_view kActivationsView = "activations";

/// Every design document, by database.
const std::vector<DesignDocument>& AllDesignDocuments();

/// {"_id":"_design/<name>","language":"javascript","views":{...}} (plus "_rev" when given).
std::string DesignDocumentJson(const DesignDocument& d, std::string_view rev = {});

}  // namespace wisp::store::couchdb
