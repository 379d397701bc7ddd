#include "design_documents.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace wisp::store::couchdb {
namespace {

// ---- whisks ------------------------------------------------------------------------------------
// Summaries as OpenWhisk's whisks.v2.1.0 emits them; the store reads full documents with
// include_docs. Keys [namespace, updated]; an entity inside a package is also listed under its
// root namespace (GET /namespaces/guest/actions shows packaged actions).

constexpr std::string_view kActionsMap = R"JS(function (doc) {
  if (doc.entityType !== 'action') return;
  try {
    var value = {
      namespace: doc.namespace,
      name: doc.name,
      version: doc.version,
      publish: doc.publish,
      annotations: doc.annotations,
      limits: doc.limits,
      exec: { binary: (doc.exec && doc.exec.binary) || false },
      updated: doc.updated
    };
    emit([doc.namespace, doc.updated], value);
    var root = doc.namespace.split('/')[0];
    if (root !== doc.namespace) emit([root, doc.updated], value);
  } catch (e) {}
})JS";

constexpr std::string_view kTriggersMap = R"JS(function (doc) {
  if (doc.entityType !== 'trigger') return;
  try {
    var value = {
      namespace: doc.namespace,
      name: doc.name,
      version: doc.version,
      publish: doc.publish,
      annotations: doc.annotations,
      updated: doc.updated
    };
    emit([doc.namespace, doc.updated], value);
    var root = doc.namespace.split('/')[0];
    if (root !== doc.namespace) emit([root, doc.updated], value);
  } catch (e) {}
})JS";

constexpr std::string_view kRulesMap = R"JS(function (doc) {
  if (doc.entityType !== 'rule') return;
  try {
    emit([doc.namespace, doc.updated], 1);
    var root = doc.namespace.split('/')[0];
    if (root !== doc.namespace) emit([root, doc.updated], 1);
  } catch (e) {}
})JS";

constexpr std::string_view kPackagesMap = R"JS(function (doc) {
  if (doc.entityType !== 'package') return;
  try {
    var value = {
      namespace: doc.namespace,
      name: doc.name,
      version: doc.version,
      publish: doc.publish,
      annotations: doc.annotations,
      updated: doc.updated,
      binding: (doc.binding && Object.keys(doc.binding).length > 0) ? doc.binding : false
    };
    emit([doc.namespace, doc.updated], value);
    var root = doc.namespace.split('/')[0];
    if (root !== doc.namespace) emit([root, doc.updated], value);
  } catch (e) {}
})JS";

// ---- subjects ----------------------------------------------------------------------------------
// OpenWhisk's subjects.v2.0.0/identities verbatim: blocked subjects emit nothing; the value links
// the namespace's limits document so that include_docs returns it.

constexpr std::string_view kIdentitiesMap = R"JS(function (doc) {
  if (doc.namespaces && !doc.blocked) {
    doc.namespaces.forEach(function(namespace) {
      var v = {_id: namespace.name + '/limits', namespace: namespace.name, uuid: namespace.uuid, key: namespace.key};
      emit([namespace.name], v);
      emit([namespace.uuid, namespace.key], v);
    });
  }
})JS";

constexpr std::string_view kBlockedNamespacesMap = R"JS(function (doc) {
  if (doc._id.indexOf('/limits') >= 0) {
    if (doc.concurrentInvocations === 0 || doc.invocationsPerMinute === 0) {
      var namespace = doc._id.replace('/limits', '');
      emit(namespace, 1);
    }
  }
})JS";

// ---- activations -------------------------------------------------------------------------------

constexpr std::string_view kActivationsMap = R"JS(function (doc) {
  if (doc.activationId === undefined) return;
  try {
    var end = doc.end !== 0 ? doc.end : undefined;
    emit([doc.namespace, doc.start], {
      activationId: doc.activationId,
      name: doc.name,
      start: doc.start,
      end: end,
      duration: end !== undefined ? end - doc.start : undefined,
      statusCode: (end !== undefined && doc.response) ? doc.response.statusCode : undefined
    });
  } catch (e) {}
})JS";

// Keyed by "namespace/filterName" where filterName mirrors ActivationRecord::FilterName(): the
// `binding` annotation "ns/b" gives "b/<name>"; else the `path` annotation minus its namespace
// ("pkg/a" or "a"); else the record's name.
constexpr std::string_view kActivationsFilterMap = R"JS(function (doc) {
  if (doc.activationId === undefined) return;
  var filterName = function (doc) {
    var path, binding;
    var anns = doc.annotations || [];
    for (var i = 0; i < anns.length; i++) {
      if (anns[i].key === 'path' && path === undefined) path = anns[i].value;
      if (anns[i].key === 'binding' && binding === undefined) binding = anns[i].value;
    }
    if (typeof binding === 'string') {
      var b = binding.indexOf('/');
      return (b < 0 ? binding : binding.substring(b + 1)) + '/' + doc.name;
    }
    if (typeof path === 'string') {
      var p = path.indexOf('/');
      return p < 0 ? path : path.substring(p + 1);
    }
    return doc.name;
  };
  try {
    emit([doc.namespace + '/' + filterName(doc), doc.start], 1);
  } catch (e) {}
})JS";

constexpr std::string_view kByDateMap = R"JS(function (doc) {
  if (doc.activationId !== undefined) try {
    emit(doc.start, [doc._id, doc._rev]);
  } catch (e) {}
})JS";

}  // namespace

const std::vector<DesignDocument>& AllDesignDocuments() {
    static const std::vector<DesignDocument> docs = {
        {Database::kWhisks,
         kWhisksDesign,
         {{"actions", kActionsMap, "_count"},
          {"triggers", kTriggersMap, "_count"},
          {"rules", kRulesMap, "_count"},
          {"packages", kPackagesMap, "_count"}}},
        {Database::kSubjects, kSubjectsDesign, {{kIdentitiesView, kIdentitiesMap, ""}}},
        {Database::kSubjects,
         "namespaceThrottlings",
         {{"blockedNamespaces", kBlockedNamespacesMap, "_sum"}}},
        {Database::kActivations,
         kActivationsDesign,
         {{kActivationsView, kActivationsMap, "_count"}}},
        {Database::kActivations,
         kActivationsFiltersDesign,
         {{kActivationsView, kActivationsFilterMap, "_count"}}},
        {Database::kActivations, "activations", {{"byDate", kByDateMap, ""}}},
    };
    return docs;
}

std::string DesignDocumentJson(const DesignDocument& d, std::string_view rev) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    const std::string id = "_design/" + std::string(d.name);
    w.StartObject();
    w.Key("_id");
    w.String(id.data(), static_cast<rapidjson::SizeType>(id.size()));
    if (!rev.empty()) {
        w.Key("_rev");
        w.String(rev.data(), static_cast<rapidjson::SizeType>(rev.size()));
    }
    w.Key("language");
    w.String("javascript");
    w.Key("views");
    w.StartObject();
    for (const ViewSpec& v : d.views) {
        w.Key(v.name.data(), static_cast<rapidjson::SizeType>(v.name.size()));
        w.StartObject();
        w.Key("map");
        w.String(v.map.data(), static_cast<rapidjson::SizeType>(v.map.size()));
        if (!v.reduce.empty()) {
            w.Key("reduce");
            w.String(v.reduce.data(), static_cast<rapidjson::SizeType>(v.reduce.size()));
        }
        w.EndObject();
    }
    w.EndObject();
    w.EndObject();
    return buf.GetString();
}

}  // namespace wisp::store::couchdb
