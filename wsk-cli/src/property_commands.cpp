// wsk property set/unset/get.
#include "commands.hpp"

#include "command_support.hpp"
#include "json_out.hpp"
#include "output.hpp"

namespace wsk {

Status PropertySet(Session& s) {
    Props props = ReadPropsFile(s.config.props_file);
    std::string ok;
    if (!s.flags.cert.empty()) {
        props["CERT"] = s.flags.cert;
        ok += Ok() + "client cert set. Run 'wsk property get --cert' to see the new value.\n";
    }
    if (!s.flags.key.empty()) {
        props["KEY"] = s.flags.key;
        ok += Ok() + "client key set. Run 'wsk property get --key' to see the new value.\n";
    }
    if (!s.flags.auth.empty()) {
        props["AUTH"] = s.flags.auth;
        ok += Ok() + "whisk auth set. Run 'wsk property get --auth' to see the new value.\n";
    }
    Status deferred;
    if (!s.flags.apihost.empty()) {
        auto base = ApiBaseUrl(s.flags.apihost);
        if (!base.ok()) {
            deferred =
                WskError::General("Unable to set API host value; the API host value '" +
                                      s.flags.apihost + "' is invalid: " + base.error().message,
                                  true);
        } else {
            props["APIHOST"] = s.flags.apihost;
            ok += Ok() + "whisk API host set to " + Bold(s.flags.apihost) + "\n";
        }
    }
    if (!s.flags.apiversion.empty()) {
        props["APIVERSION"] = s.flags.apiversion;
        ok += Ok() + "whisk API version set to " + Bold(s.flags.apiversion) + "\n";
    }
    if (auto e = WritePropsFile(s.config.props_file, props)) {
        return e->Wrap("Unable to set the property value(s)");
    }
    Print(s, ok);
    return deferred;
}

Status PropertyUnset(Session& s, const PropertyFlags& f) {
    Props props = ReadPropsFile(s.config.props_file);
    std::string ok;
    if (f.cert) {
        props.erase("CERT");
        ok += Ok() + "client cert unset.\n";
    }
    if (f.key) {
        props.erase("KEY");
        ok += Ok() + "client key unset.\n";
    }
    if (f.auth) {
        props.erase("AUTH");
        ok += Ok() + "whisk auth unset.\n";
    }
    if (f.apihost) {
        props.erase("APIHOST");
        ok += Ok() + "whisk API host unset.\n";
    }
    if (f.apiversion) {
        props.erase("APIVERSION");
        ok += Ok() + "whisk API version unset; the default value of " + Bold("v1") +
              " will be used.\n";
    }
    if (f.ns) {
        props.erase("NAMESPACE");
        ok += Ok() + "whisk namespace unset";
        ok += "; the default value of " + Bold("_") + " will be used.\n";
    }
    if (auto e = WritePropsFile(s.config.props_file, props)) {
        return e->Wrap("Unable to unset the property value");
    }
    Print(s, ok);
    return std::nullopt;
}

Status PropertyGet(Session& s, const PropertyFlags& f_in) {
    PropertyFlags f = f_in;
    std::string format = "std";
    if (f.output != "std") {
        if (f.output != "raw") return WskError::General("Supported output format are std|raw");
        format = "raw";
    }
    if (!(f.all || f.cert || f.key || f.auth || f.apiversion || f.cliversion || f.ns ||
          f.apibuild || f.apihost || f.apibuildno)) {
        f.all = true;
    }
    auto namespace_of = [&]() -> std::string {
        auto r = s.client->Do("GET", "namespaces", std::nullopt);
        if (!r.ok() || !r->json.IsArray() || r->json.Empty() || !r->json[0].IsString()) {
            return "_";
        }
        return r->json[0].GetString();
    };
    std::string out;
    auto prop = [&](const std::string& label, const std::string& value, bool one_tab = false) {
        if (format == "raw") {
            out += Bold(value) + "\n";
        } else {
            out += label + (one_tab ? "\t" : "\t\t") + Bold(value) + "\n";
        }
    };
    if (f.all) {
        if (format != "std") {
            return WskError::General("--output|-o raw only supported with specific property type");
        }
        prop("whisk API host", s.config.apihost);
        prop("whisk auth", s.config.auth);
        prop("whisk namespace", namespace_of());
        prop("client cert", s.config.cert);
        prop("Client key", s.config.key);
        prop("whisk API version", s.config.apiversion, true);
        prop("whisk CLI version", kCliVersion, true);
    } else {
        if (f.apihost) prop("whisk API host", s.config.apihost);
        if (f.auth) prop("whisk auth", s.config.auth);
        if (f.ns) prop("whisk namespace", namespace_of());
        if (f.cert) prop("client cert", s.config.cert);
        if (f.key) prop("Client key", s.config.key);
        if (f.cliversion) prop("whisk CLI version", kCliVersion, true);
        if (f.apiversion) prop("whisk API version", s.config.apiversion, true);
    }
    Status err;
    if (f.all || f.apibuild || f.apibuildno) {
        std::string build = "Unknown";
        std::string build_no = "Unknown";
        auto info = s.client->Info();
        if (info.ok() && info->json.IsObject()) {
            if (info->json.HasMember("build") && info->json["build"].IsString())
                build = info->json["build"].GetString();
            if (info->json.HasMember("buildno") && info->json["buildno"].IsString())
                build_no = info->json["buildno"].GetString();
        } else if (!info.ok()) {
            err = info.error().Wrap("Unable to obtain API build information");
        }
        if (f.all) {
            prop("whisk API build", build);
            prop("whisk API build number", build_no, true);
        } else {
            if (f.apibuild) prop("whisk API build", build);
            if (f.apibuildno) prop("whisk API build number", build_no, true);
        }
    }
    Print(s, out);
    return err;
}

}  // namespace wsk
