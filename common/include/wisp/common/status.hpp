#pragma once
// Error handling shared by every module.
//
// Anything that can fail returns absl::Status / absl::StatusOr<T>. The status code says which
// HTTP status the controller answers with (see HttpStatusFor); the message is the user-facing
// text, exactly OpenWhisk's where OpenWhisk defines one.
//
//   kInvalidArgument     400  bad input ("The request content was malformed: ...")
//   kUnauthenticated     401
//   kPermissionDenied    403
//   kNotFound            404  "The requested resource does not exist."
//   kAlreadyExists       409  "resource already exists"
//   kFailedPrecondition  409  "Resource by this name exists but is not in this collection."
//   kAborted             409  stale revision on update (a concurrent writer won)
//   kOutOfRange          413  "... larger than allowed: N > M bytes."
//   kResourceExhausted   429  throttled
//   kUnavailable         503  a peer (CouchDB, Kafka, Docker, invoker) cannot be reached
//   kDeadlineExceeded    504
//   anything else        500
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

namespace wisp::common {

/// The HTTP status code the REST API answers for a failed status (see the table above).
int HttpStatusFor(const absl::Status& status);

/// OpenWhisk's canonical messages.
inline constexpr std::string_view kMsgResourceDoesNotExist =
    "The requested resource does not exist.";
inline constexpr std::string_view kMsgResourceExists = "resource already exists";
inline constexpr std::string_view kMsgTypeMismatch =
    "Resource by this name exists but is not in this collection.";
inline constexpr std::string_view kMsgConflict = "Concurrent modification to resource detected.";

}  // namespace wisp::common

/// Crashes loudly on a broken invariant (never for bad input or failing peers).
#define WISP_CHECK(cond)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            std::fprintf(stderr, "%s:%d: WISP_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                      \
        }                                                                                      \
    } while (0)

/// Returns from the enclosing function when `expr` (an absl::Status) is not ok.
#define WISP_RETURN_IF_ERROR(expr)           \
    do {                                     \
        ::absl::Status _wisp_st = (expr);    \
        if (!_wisp_st.ok()) return _wisp_st; \
    } while (0)

#define WISP_CONCAT_INNER_(a, b) a##b
#define WISP_CONCAT_(a, b) WISP_CONCAT_INNER_(a, b)
/// `WISP_ASSIGN_OR_RETURN(auto x, StatusOrExpr());`
#define WISP_ASSIGN_OR_RETURN(lhs, expr)                   \
    auto WISP_CONCAT_(_wisp_so_, __LINE__) = (expr);       \
    if (!WISP_CONCAT_(_wisp_so_, __LINE__).ok())           \
        return WISP_CONCAT_(_wisp_so_, __LINE__).status(); \
    lhs = std::move(WISP_CONCAT_(_wisp_so_, __LINE__)).value()
