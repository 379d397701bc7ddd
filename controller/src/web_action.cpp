#include "web_action.hpp"

#include <array>
#include <cstdint>
#include <cstdlib>
#include <limits>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <wisp/common/base64.hpp>
#include <wisp/common/entity_path.hpp>
#include <wisp/common/strings.hpp>

#include "media_types.hpp"

namespace wisp::controller::web {

namespace {

using common::JsonValue;
using common::Parameters;

constexpr std::array<std::pair<std::string_view, Extension>, 5> kExtensions = {{
    {".http", Extension::kHttp},
    {".json", Extension::kJson},
    {".html", Extension::kHtml},
    {".svg", Extension::kSvg},
    {".text", Extension::kText},
}};

using common::EqualsIgnoreCase;

std::string Scalar(const rapidjson::Value& v) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    v.Accept(w);
    return std::string(sb.GetString(), sb.GetSize());
}

void Indent(std::string& out, int n) { out.append(static_cast<size_t>(n), ' '); }

void Pretty(const rapidjson::Value& v, int indent, std::string& out) {
    if (v.IsObject()) {
        if (v.MemberCount() == 0) {
            out += "{}";
            return;
        }
        out += "{\n";
        bool first = true;
        for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
            if (!first) out += ",\n";
            first = false;
            Indent(out, indent + 2);
            out += Scalar(it->name);
            out += ": ";
            Pretty(it->value, indent + 2, out);
        }
        out += '\n';
        Indent(out, indent);
        out += '}';
    } else if (v.IsArray()) {
        out += '[';
        bool first = true;
        for (const auto& e : v.GetArray()) {
            if (!first) out += ", ";
            first = false;
            Pretty(e, indent, out);
        }
        out += ']';
    } else {
        out += Scalar(v);
    }
}

/// Akka's registered status codes (others are rejected as an invalid response).
bool IsKnownStatusCode(int64_t c) {
    if ((c >= 100 && c <= 103) || (c >= 200 && c <= 208) || c == 226 || (c >= 300 && c <= 308) ||
        (c >= 400 && c <= 418) || (c >= 420 && c <= 426) || c == 428 || c == 429 || c == 431 ||
        c == 449 || c == 450 || c == 451 || (c >= 500 && c <= 511) || c == 598 || c == 599) {
        return true;
    }
    return false;
}

/// Java's Integer.parseInt.
std::optional<int64_t> ParseJavaInt(std::string_view s) {
    bool neg = false;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        s.remove_prefix(1);
    }
    if (s.empty() || s.size() > 10) return std::nullopt;
    int64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + (c - '0');
    }
    if (neg) v = -v;
    if (v > std::numeric_limits<int32_t>::max() || v < std::numeric_limits<int32_t>::min()) {
        return std::nullopt;
    }
    return v;
}

[[nodiscard]] absl::Status InvalidMedia(std::string_view media) {
    return absl::InvalidArgumentError(common::Cat("Response is not valid '", media, "'."));
}

/// Header values as OpenWhisk accepts them: strings, booleans, numbers, arrays of those.
bool FlattenHeader(const std::string& name, const rapidjson::Value& v, HeaderList& out) {
    if (v.IsString()) {
        out.emplace_back(name, std::string(v.GetString(), v.GetStringLength()));
    } else if (v.IsBool() || v.IsNumber()) {
        out.emplace_back(name, Scalar(v));
    } else if (v.IsArray()) {
        for (const auto& e : v.GetArray()) {
            if (!FlattenHeader(name, e, out)) return false;
        }
    } else {
        return false;
    }
    return true;
}

/// The action's headers without Content-Type (the entity decides it), plus `content_type`.
HttpResponse WithHeaders(int status, const HeaderList& action_headers,
                         std::optional<std::string> content_type, std::string body) {
    HttpResponse resp;
    resp.status = status;
    for (const auto& h : action_headers) {
        if (!EqualsIgnoreCase(h.first, "content-type")) resp.headers.push_back(h);
    }
    if (content_type) resp.headers.emplace_back("Content-Type", *content_type);
    resp.body = std::move(body);
    return resp;
}

[[nodiscard]] absl::StatusOr<HttpResponse> HttpStringBody(int status, const HeaderList& headers,
                                                          const std::string& str) {
    const bool given = HasHeader(headers, "content-type");
    const std::string ct_value =
        given ? std::string(FindHeader(headers, "content-type")) : std::string("text/html");
    auto mt = ParseMediaType(ct_value);
    if (!mt) return absl::InvalidArgumentError(std::string(kMsgUnknownContentType));
    const MediaKind kind = KindOf(*mt);
    std::string body;
    if (kind == MediaKind::kBinary || (IsJsonFamily(*mt) && LooksLikeBase64(str))) {
        auto decoded = common::Base64Decode(str, common::Base64Mode::kStrict);
        if (!decoded) return absl::InvalidArgumentError(std::string(kMsgContentTypeError));
        body = *std::move(decoded);
    } else {
        body = str;
    }
    std::string ct = std::string(common::Trim(ct_value));
    if (kind == MediaKind::kFixedCharset) {
        ct = mt->Value();
    } else if (kind == MediaKind::kOpenCharset && !mt->has_charset) {
        ct += "; charset=UTF-8";
    }
    return WithHeaders(status, headers, ct, std::move(body));
}

[[nodiscard]] absl::StatusOr<HttpResponse> HttpJsonBody(int status, const HeaderList& headers,
                                                        const rapidjson::Value& js) {
    std::optional<MediaType> mt;
    if (HasHeader(headers, "content-type")) {
        mt = ParseMediaType(FindHeader(headers, "content-type"));
        if (!mt) return absl::InvalidArgumentError(std::string(kMsgContentTypeError));
    } else {
        mt = MediaType{"application", "json", false};
    }
    if (mt->Value() == "application/json") {
        return WithHeaders(status, headers, std::string("application/json"),
                           common::ToCompactJson(js));
    }
    if (IsJsonFamily(*mt)) {
        std::string body;
        Pretty(js, 0, body);
        return WithHeaders(status, headers, mt->Value(), std::move(body));
    }
    return absl::InvalidArgumentError(std::string(kMsgContentTypeError));
}

[[nodiscard]] absl::StatusOr<HttpResponse> RenderHttp(const rapidjson::Value& result) {
    const absl::Status invalid = InvalidMedia("message/http");
    if (!result.IsObject()) return invalid;
    HeaderList headers;
    if (auto it = result.FindMember("headers"); it != result.MemberEnd()) {
        if (!it->value.IsObject()) return invalid;
        for (auto h = it->value.MemberBegin(); h != it->value.MemberEnd(); ++h) {
            const std::string name(h->name.GetString(), h->name.GetStringLength());
            if (!FlattenHeader(name, h->value, headers)) return invalid;
        }
    }
    std::optional<int64_t> code;
    if (auto it = result.FindMember("statusCode"); it != result.MemberEnd()) {
        const auto& c = it->value;
        if (c.IsInt64()) {
            code = c.GetInt64();
        } else if (c.IsDouble()) {
            const double d = c.GetDouble();
            if (d != static_cast<double>(static_cast<int64_t>(d))) return invalid;
            code = static_cast<int64_t>(d);
        } else if (c.IsString()) {
            code = ParseJavaInt(std::string_view(c.GetString(), c.GetStringLength()));
            if (!code) return invalid;
        } else {
            return invalid;
        }
        if (!IsKnownStatusCode(*code)) return invalid;
    }
    auto body = result.FindMember("body");
    if (body == result.MemberEnd() || body->value.IsNull() ||
        (body->value.IsString() && body->value.GetStringLength() == 0)) {
        return WithHeaders(static_cast<int>(code.value_or(204)), headers, std::nullopt, "");
    }
    const int status = static_cast<int>(code.value_or(200));
    if (body->value.IsString()) {
        return HttpStringBody(status, headers,
                              std::string(body->value.GetString(), body->value.GetStringLength()));
    }
    return HttpJsonBody(status, headers, body->value);
}

/// `body`, else `field`, of an object result; the result itself otherwise. nullptr when an
/// object has neither.
const rapidjson::Value* Pick(const rapidjson::Value& result, const char* field) {
    if (!result.IsObject()) return &result;
    if (auto it = result.FindMember("body"); it != result.MemberEnd()) return &it->value;
    if (auto it = result.FindMember(field); it != result.MemberEnd()) return &it->value;
    return nullptr;
}

HttpResponse Entity(std::string content_type, std::string body) {
    HttpResponse resp;
    resp.status = 200;
    resp.headers.emplace_back("Content-Type", std::move(content_type));
    resp.body = std::move(body);
    return resp;
}

}  // namespace

// ---- URL -------------------------------------------------------------------------------------

std::optional<WebTarget> ParseWebPath(std::string_view rest) {
    std::array<std::string_view, 3> segs;
    for (size_t i = 0; i < 3; ++i) {
        const size_t slash = rest.find('/');
        if (i < 2 && slash == std::string_view::npos) return std::nullopt;
        segs[i] = rest.substr(0, slash);
        rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
        if (i < 2) rest.remove_prefix(1);
    }
    WebTarget t;
    t.ns = std::string(segs[0]);
    if (segs[1] != "default") t.package = std::string(segs[1]);
    std::string_view action = segs[2];
    for (const auto& [ext, kind] : kExtensions) {
        if (action.size() > ext.size() && action.substr(action.size() - ext.size()) == ext) {
            action.remove_suffix(ext.size());
            t.extension = kind;
            break;
        }
    }
    t.action = std::string(action);
    t.extra_path = std::string(rest);
    if (!common::IsValidEntityName(t.ns) || !common::IsValidEntityName(t.action) ||
        (t.package && !common::IsValidEntityName(*t.package))) {
        return std::nullopt;
    }
    return t;
}

// ---- annotations -----------------------------------------------------------------------------

bool AnnotationIsTrue(const Parameters& annotations, std::string_view key) {
    const JsonValue* v = annotations.Get(key);
    return v != nullptr && v->text() == "true";
}

bool RequireWhiskAuthAllows(const Parameters& annotations, const HttpRequest& req,
                            bool authenticated) {
    const JsonValue* v = annotations.Get(kRequireWhiskAuth);
    if (v == nullptr) return true;
    const std::string& t = v->text();
    if (t == "true") return authenticated;
    std::string expected;
    if (v->IsString()) {
        expected = v->AsString();
    } else if (!t.empty() && (t[0] == '-' || (t[0] >= '0' && t[0] <= '9'))) {
        expected = t;
    } else {
        return false;
    }
    return req.HasHeader(kRequireWhiskAuthHeader) &&
           common::ConstantTimeEquals(req.Header(kRequireWhiskAuthHeader), expected);
}

std::set<std::string> ProtectedParameters(const Parameters& annotations,
                                          const Parameters& action_parameters) {
    std::set<std::string> names = {"__ow_method", "__ow_headers", "__ow_path",
                                   "__ow_user",   "__ow_query",   "__ow_body"};
    if (AnnotationIsTrue(annotations, kFinal)) {
        for (const auto& p : action_parameters.items()) {
            if (!p.value.IsNull()) names.insert(p.key);
        }
    }
    return names;
}

// ---- arguments -------------------------------------------------------------------------------

absl::StatusOr<Parameters> BuildWebArguments(const WebArgumentsInput& in) {
    const HttpRequest& req = *in.request;
    Parameters args;
    args.Set("__ow_method", JsonValue::String(common::AsciiLower(req.method)));
    {
        // Content-Length and Transfer-Encoding describe the entity and are not passed on.
        std::vector<std::pair<std::string, std::string>> headers;
        for (const auto& [k, v] : req.headers) {
            const std::string name = common::AsciiLower(k);
            if (name == "content-length" || name == "transfer-encoding") continue;
            bool replaced = false;
            for (auto& h : headers) {
                if (h.first == name) {
                    h.second = v;
                    replaced = true;
                }
            }
            if (!replaced) headers.emplace_back(name, v);
        }
        rapidjson::StringBuffer sb;
        rapidjson::Writer<rapidjson::StringBuffer> w(sb);
        w.StartObject();
        for (const auto& [k, v] : headers) {
            w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
            const std::string value = common::SanitizeUtf8(v);
            w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
        }
        w.EndObject();
        args.Set("__ow_headers", JsonValue::Parse(sb.GetString()).value());
    }
    args.Set("__ow_path", JsonValue::String(common::SanitizeUtf8(in.extra_path)));
    if (in.user_namespace) args.Set("__ow_user", JsonValue::String(*in.user_namespace));

    std::vector<std::string> given_names;  // query and body names, for the protected check
    if (in.raw_http) {
        std::string_view target = req.target;
        std::string_view raw_query;
        if (auto q = target.find('?'); q != std::string_view::npos) {
            raw_query = target.substr(q + 1);
            if (auto f = raw_query.find('#'); f != std::string_view::npos) {
                raw_query = raw_query.substr(0, f);
            }
        }
        args.Set("__ow_query", JsonValue::String(common::SanitizeUtf8(raw_query)));
    } else {
        for (const auto& [k, v] : req.query) {
            args.Set(common::SanitizeUtf8(k), JsonValue::String(common::SanitizeUtf8(v)));
            given_names.push_back(k);
        }
    }

    // The body: nothing, a JSON value (objects merge), form fields, or an opaque string.
    const bool has_ct = req.HasHeader("content-type");
    const std::optional<MediaType> mt =
        has_ct ? ParseMediaType(req.Header("content-type")) : std::nullopt;
    std::optional<JsonValue> body;
    if (req.body.empty() && !has_ct) {
        // no entity
    } else if (!in.raw_http && mt && IsJsonFamily(*mt)) {
        if (!req.body.empty()) {
            auto v = JsonValue::Parse(req.body);
            if (!v.ok()) return v.status();
            body = *std::move(v);
        }
    } else if (!in.raw_http && mt && mt->Value() == "application/x-www-form-urlencoded") {
        Parameters fields;
        for (auto piece : common::Split(req.body, '&', /*skip_empty=*/true)) {
            const size_t eq = piece.find('=');
            auto key = PercentDecode(piece.substr(0, eq), /*plus_is_space=*/true);
            auto value = PercentDecode(
                eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1), true);
            if (!key || !value) {
                return absl::InvalidArgumentError(
                    "The request content was malformed:\nIllegal percent-encoding in form data");
            }
            fields.Set(common::SanitizeUtf8(*key), JsonValue::String(common::SanitizeUtf8(*value)));
        }
        body = JsonValue::Parse(fields.ToObjectJson()).value();
    } else {
        const bool binary =
            !mt || KindOf(*mt) == MediaKind::kBinary || mt->Value() == "application/json";
        body = JsonValue::String(binary ? common::Base64Encode(req.body)
                                        : common::SanitizeUtf8(req.body));
    }

    if (body && body->IsObject() && !in.raw_http) {
        auto members = Parameters::FromObjectJson(body->text());
        if (!members.ok()) return members.status();
        for (const auto& p : members->items()) {
            given_names.push_back(p.key);
            args.Set(p.key, p.value);
        }
    } else if (body) {
        args.Set("__ow_body", *body);
    } else if (in.raw_http) {
        args.Set("__ow_body", JsonValue::String(""));
    }

    if (!in.raw_http && in.protected_names != nullptr) {
        for (const auto& name : given_names) {
            if (in.protected_names->count(name) != 0) {
                return absl::InvalidArgumentError(std::string(kMsgParametersNotAllowed));
            }
        }
    }
    return args;
}

// ---- responses -------------------------------------------------------------------------------

absl::StatusOr<HttpResponse> RenderActivationResponse(Extension ext,
                                                      const common::ActivationResponse& response) {
    switch (response.status) {
        case common::ActivationStatus::kSuccess:
            return RenderResult(ext, response.result.value_or(JsonValue::EmptyObject()));
        case common::ActivationStatus::kApplicationError: {
            // The error property of the result is what gets rendered.
            rapidjson::Document doc;
            response.result.value_or(JsonValue::EmptyObject()).ToRapid(doc);
            if (!doc.IsObject()) break;
            auto it = doc.FindMember("error");
            if (it == doc.MemberEnd()) break;
            return RenderResult(ext, JsonValue::FromRapid(it->value));
        }
        case common::ActivationStatus::kDeveloperError:
        case common::ActivationStatus::kWhiskError:
            return absl::InvalidArgumentError(std::string(kMsgErrorProcessingRequest));
    }
    return absl::NotFoundError(std::string(kMsgPropertyNotFound));
}

absl::StatusOr<HttpResponse> RenderResult(Extension ext, const JsonValue& value) {
    rapidjson::Document doc;
    value.ToRapid(doc);
    switch (ext) {
        case Extension::kHttp:
            return RenderHttp(doc);
        case Extension::kJson:
            if (!doc.IsObject() && !doc.IsArray()) return InvalidMedia("application/json");
            return Entity("application/json", value.text());
        case Extension::kHtml: {
            const rapidjson::Value* v = Pick(doc, "html");
            if (v == nullptr || !v->IsString()) return InvalidMedia("text/html");
            return Entity("text/html; charset=UTF-8",
                          std::string(v->GetString(), v->GetStringLength()));
        }
        case Extension::kSvg: {
            const rapidjson::Value* v = Pick(doc, "svg");
            if (v == nullptr || !v->IsString()) return InvalidMedia("image/svg+xml");
            return Entity("image/svg+xml", std::string(v->GetString(), v->GetStringLength()));
        }
        case Extension::kText: {
            const rapidjson::Value* v = Pick(doc, "text");
            if (v == nullptr) return absl::NotFoundError(std::string(kMsgPropertyNotFound));
            std::string text;
            if (v->IsString()) {
                text.assign(v->GetString(), v->GetStringLength());
            } else {
                Pretty(*v, 0, text);
            }
            return Entity("text/plain; charset=UTF-8", std::move(text));
        }
    }
    return InvalidMedia("message/http");
}

}  // namespace wisp::controller::web
