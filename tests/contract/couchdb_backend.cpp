// The ArtifactStore contract suite on CouchDB: one in-memory pouchdb-server per test binary
// (started on first use, stopped at exit), and for each test case a store on fresh databases
// (a unique db_prefix), so test cases are independent.
#include "contract_backend.hpp"

#include <catch2/catch.hpp>

#include <wisp/store/couchdb_artifact_store.hpp>

#include <wisp/testing/pouchdb_server.hpp>

namespace wisp::contract {

std::unique_ptr<store::ArtifactStore> MakeFreshStore() {
    auto server = testing::PouchDbServer::Shared();
    if (!server.ok()) FAIL("cannot start pouchdb-server: " << server.status().ToString());
    auto config =
        store::CouchDbConfig::FromUri((*server)->StoreUri(testing::PouchDbServer::UniquePrefix()));
    if (!config.ok()) FAIL(config.status().ToString());
    auto store = store::CouchDbArtifactStore::Open(*config);
    if (!store.ok()) FAIL("cannot open the CouchDB store: " << store.status().ToString());
    return std::move(*store);
}

std::string BackendName() { return "couchdb"; }

}  // namespace wisp::contract
