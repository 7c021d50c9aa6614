#!/usr/bin/python3
"""tests/schema_check.py: validate `mxlock export` output against the subset
of the ECS or OCSF field definitions shipped in tests/fixtures/schema/.

    schema_check.py ecs|ocsf SCHEMA.json FILE

Every line must be one JSON object; every field must be defined in the
subset (or declared there as mxlock's own), of its type, with an allowed
value, and the required fields must be present. Prints one error per line
("FILE:LINE: field: why") and a summary; exits 1 when any line failed."""
import datetime
import ipaddress
import json
import sys

INT32 = (-(2 ** 31), 2 ** 31 - 1)
INT64 = (-(2 ** 63), 2 ** 63 - 1)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_ip(v):
    try:
        ipaddress.ip_address(v)
        return True
    except (ValueError, TypeError):
        return False


def check_date(v):
    if not isinstance(v, str):
        return is_int(v)  # epoch_millis is a valid date too
    try:
        datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
        return True
    except ValueError:
        return False


def flatten(obj, prefix=""):
    """ECS: nested objects to dotted names; labels kept whole."""
    out = {}
    for k, v in obj.items():
        name = prefix + k
        if isinstance(v, dict) and name != "labels":
            out.update(flatten(v, name + "."))
        else:
            out[name] = v
    return out


def ecs_value(name, spec, v, errs):
    t = spec["type"]
    vals = v if spec.get("array") else [v]
    if spec.get("array") and not isinstance(v, list):
        errs.append("%s: must be an array" % name)
        return
    for x in vals:
        if t in ("keyword", "match_only_text"):
            if not isinstance(x, str) or x == "":
                errs.append("%s: %r is not a non-empty string" % (name, x))
            elif "allowed" in spec and x not in spec["allowed"]:
                errs.append("%s: %r is not an allowed value" % (name, x))
        elif t == "long":
            if not is_int(x) or not INT64[0] <= x <= INT64[1]:
                errs.append("%s: %r is not a long" % (name, x))
            elif x < spec.get("min", INT64[0]) or x > spec.get("max", INT64[1]):
                errs.append("%s: %r out of range" % (name, x))
        elif t == "ip":
            if not check_ip(x):
                errs.append("%s: %r is not an IP address" % (name, x))
        elif t == "date":
            if not check_date(x):
                errs.append("%s: %r is not a date" % (name, x))
        elif t == "object":
            if not isinstance(x, dict) or not all(isinstance(s, str) for s in x.values()):
                errs.append("%s: must be an object of %s values" % (name, spec.get("values")))
        else:
            errs.append("%s: schema type %s unknown to the checker" % (name, t))


def check_ecs(schema, rec):
    errs = []
    flat = flatten(rec)
    fields = dict(schema["fields"])
    fields.update(schema.get("custom", {}))
    for name, v in flat.items():
        spec = fields.get(name)
        if spec is None:
            errs.append("%s: not an ECS %s field (nor a declared custom one)" % (name, schema["version"]))
            continue
        ecs_value(name, spec, v, errs)
    for name in schema["required"]:
        if name not in flat:
            errs.append("%s: required, missing" % name)
    # every event.type must be expected for at least one of the categories
    cats, types = flat.get("event.category", []), flat.get("event.type", [])
    if isinstance(cats, list) and isinstance(types, list):
        for t in types:
            if not any(t in schema["expected_event_types"].get(c, []) for c in cats):
                errs.append("event.type: %r is not expected for event.category %r" % (t, cats))
    if flat.get("ecs.version") not in (None, schema["version"]):
        errs.append("ecs.version: %r, the subset is %s" % (flat.get("ecs.version"), schema["version"]))
    return errs


def ocsf_value(name, spec, v, schema, errs):
    t = spec["type"]
    vals = v if spec.get("array") else [v]
    if spec.get("array") and not isinstance(v, list):
        errs.append("%s: must be an array" % name)
        return
    for x in vals:
        if t in ("string_t", "hostname_t"):
            if not isinstance(x, str):
                errs.append("%s: %r is not a string" % (name, x))
        elif t in ("integer_t", "port_t"):
            lo, hi = (0, 65535) if t == "port_t" else INT32
            if not is_int(x) or not lo <= x <= hi:
                errs.append("%s: %r is not %s" % (name, x, t))
            elif x < spec.get("min", lo):
                errs.append("%s: %r below %d" % (name, x, spec["min"]))
        elif t in ("long_t", "timestamp_t"):
            if not is_int(x) or not INT64[0] <= x <= INT64[1]:
                errs.append("%s: %r is not %s" % (name, x, t))
            elif t == "timestamp_t" and not 10 ** 11 < x < 10 ** 14:
                errs.append("%s: %r is not milliseconds since the epoch" % (name, x))
        elif t == "ip_t":
            if not check_ip(x):
                errs.append("%s: %r is not an IP address" % (name, x))
        elif t == "object":
            if not isinstance(x, dict):
                errs.append("%s: must be an object" % name)
            elif "object" in spec:
                errs.extend(check_ocsf_obj(schema, schema["objects"][spec["object"]], x, name + "."))
        else:
            errs.append("%s: schema type %s unknown to the checker" % (name, t))
        if "enum" in spec and is_int(x) and str(x) not in spec["enum"]:
            errs.append("%s: %r is not in the enum" % (name, x))


def check_ocsf_obj(schema, attrs, obj, prefix):
    errs = []
    for k, v in obj.items():
        spec = attrs.get(k)
        if spec is None:
            errs.append("%s%s: not an attribute of this object in OCSF %s" % (prefix, k, schema["version"]))
            continue
        ocsf_value(prefix + k, spec, v, schema, errs)
    for k, spec in attrs.items():
        if spec.get("required") and k not in obj:
            errs.append("%s%s: required, missing" % (prefix, k))
        sib = spec.get("sibling")
        if sib and k in obj and "enum" in spec and obj.get(sib) is not None:
            want = spec["enum"].get(str(obj[k]))
            if want is not None and obj[k] != 99 and obj[sib] != want:
                errs.append("%s%s: %r does not match %s %r (%r)" % (prefix, sib, obj[sib], k, obj[k], want))
    return errs


def check_ocsf(schema, rec):
    errs = check_ocsf_obj(schema, schema["attributes"], rec, "")
    if rec.get("class_uid") != schema["class_uid"]:
        errs.append("class_uid: %r, want %d" % (rec.get("class_uid"), schema["class_uid"]))
    if rec.get("category_uid") != schema["category_uid"]:
        errs.append("category_uid: %r, want %d" % (rec.get("category_uid"), schema["category_uid"]))
    if is_int(rec.get("class_uid")) and is_int(rec.get("activity_id")):
        if rec.get("type_uid") != rec["class_uid"] * 100 + rec["activity_id"]:
            errs.append("type_uid: %r is not class_uid * 100 + activity_id" % rec.get("type_uid"))
    if not any(k in rec for k in schema["at_least_one"]):
        errs.append("at least one of %s is required" % ", ".join(schema["at_least_one"]))
    md = rec.get("metadata")
    if isinstance(md, dict) and md.get("version") != schema["version"]:
        errs.append("metadata.version: %r, the subset is %s" % (md.get("version"), schema["version"]))
    return errs


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("ecs", "ocsf"):
        print(__doc__, file=sys.stderr)
        return 2
    fmt, schema_path, path = sys.argv[1:]
    schema = json.load(open(schema_path, encoding="utf-8"))
    check = check_ecs if fmt == "ecs" else check_ocsf
    n = bad = 0
    for i, line in enumerate(open(path, encoding="utf-8"), 1):
        n += 1
        try:
            rec = json.loads(line)
        except ValueError as e:
            errs = ["not JSON: %s" % e]
        else:
            errs = check(schema, rec) if isinstance(rec, dict) else ["not a JSON object"]
        if errs:
            bad += 1
            for e in errs:
                print("%s:%d: %s" % (path, i, e))
    print("%s: %d records checked against %s %s, %d invalid" % (path, n, fmt, schema["version"], bad))
    return 1 if bad or n == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
