#include <wisp/common/status.hpp>

namespace wisp::common {

int HttpStatusFor(const absl::Status& status) {
    switch (status.code()) {
        case absl::StatusCode::kOk:
            return 200;
        case absl::StatusCode::kInvalidArgument:
            return 400;
        case absl::StatusCode::kUnauthenticated:
            return 401;
        case absl::StatusCode::kPermissionDenied:
            return 403;
        case absl::StatusCode::kNotFound:
            return 404;
        case absl::StatusCode::kAlreadyExists:
        case absl::StatusCode::kFailedPrecondition:
        case absl::StatusCode::kAborted:
            return 409;
        case absl::StatusCode::kOutOfRange:
            return 413;
        case absl::StatusCode::kResourceExhausted:
            return 429;
        case absl::StatusCode::kUnavailable:
            return 503;
        case absl::StatusCode::kDeadlineExceeded:
            return 504;
        default:
            return 500;
    }
}

}  // namespace wisp::common
