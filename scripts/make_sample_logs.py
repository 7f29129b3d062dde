#!/usr/bin/env python3
"""Deterministic generator of a realistic CloudTrail sample tree for trailtriage.

    python3 scripts/make_sample_logs.py            # writes sample-logs/

Writes gzipped CloudTrail log files in the real S3 key layout under sample-logs/AWSLogs/...,
one CloudTrail-Digest file, and tests/fixtures/sample-logs-expected.json (ground truth computed by the plain
oracle below, an independent reading of /work/shared/causes.md §1/§3/§4).

Failure records reuse the shapes of the hit records in tests/fixtures/cases/*.json (new eventIDs and
times), surrounded by ordinary traffic and a few incident stories. Python 3 standard library only;
fixed seed, no wall clock: re-running produces byte-identical files.
"""
import copy
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import random
import re
import string
import sys
import uuid

# --------------------------------------------------------------------------- oracle
# An independent, deliberately plain reading of /work/shared/causes.md §1, §3, §4.
# Used to compute EXPECTED.json and to cross-check the hand-written fixture expectations.

ROLE_ARN_RE = re.compile(r"^arn:aws[A-Za-z0-9_-]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]{1,}$")
MSG_ROLE_RE = re.compile(r'on resource: "?(arn:[A-Za-z0-9_-]+:iam::[0-9]{12}:role/[^\s"]+)')
STS_MSG_RE = re.compile(r"sts:(AssumeRole|TagSession|SetSourceIdentity)")
SERVICE_SUBJECT_RE = re.compile(r"^[A-Z][A-Za-z0-9_ .-]* is not authorized to perform: sts:AssumeRole\b")
SCOPE_STS = {"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "AssumeRoot"}
POLICY_TYPES = [
    "VPC endpoint policy transitively through a service control policy",
    "service control policy", "resource control policy", "VPC endpoint policy",
    "permissions boundary", "session policy", "sessions policy", "resource-based policy",
    "role trust policy", "identity-based policy",
]
_TYPES_ALT = "|".join(re.escape(t) for t in POLICY_TYPES)
SUFFIX_RE = re.compile(r"(with an explicit deny in (a|an|the) (%s)|because no (%s) allows the \S+ action)$" % (_TYPES_ALT, _TYPES_ALT))
# step-3 literals that name a policy type (skipped when the message is cut, §4 step 3 truncation guard)
POLICY_LITERALS = [
    ("service control policy", "scp_deny"),
    ("resource control policy", "rcp_deny"),
    ("VPC endpoint policy", "vpc_endpoint_policy_deny"),
    ("permissions boundary", "permissions_boundary_deny"),
    (re.compile(r"sessions? policy"), "session_policy_deny"),
    ("explicit deny in an identity-based policy", "identity_policy_explicit_deny"),
    ("no identity-based policy allows", "missing_identity_permission"),
    ("explicit deny in the role trust policy", "trust_policy_explicit_deny"),
    ("no role trust policy allows", "trust_policy_principal_not_allowed"),
    ("explicit deny in a resource-based policy", "trust_policy_explicit_deny"),
    ("no resource-based policy allows", "trust_policy_principal_not_allowed"),
]


def norm_code(c):
    if not c:
        return None
    if c.startswith("Client."):
        c = c[len("Client."):]
    if c.endswith("Exception"):
        c = c[: -len("Exception")]
    return c or None


def message_truncated(msg):
    if msg is None or len(msg) < 1000:
        return False
    m = msg.rstrip()
    if m.endswith("."):
        m = m[:-1]
    return not SUFFIX_RE.search(m)


def region_partition(region):
    region = region or ""
    for prefix, part in (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-iso-", "aws-iso"),
                         ("us-isob-", "aws-iso-b"), ("us-isof-", "aws-iso-f"), ("eu-isoe-", "aws-iso-e"),
                         ("eusc-", "aws-eusc")):
        if region.startswith(prefix):
            return part
    return "aws"


def arn_partition(arn):
    m = re.match(r"^arn:([^:]+):", arn or "")
    return m.group(1) if m else None


def arn_account(arn):
    m = re.match(r"^arn:[^:]+:[^:]*:[^:]*:([0-9]{12})(:|$)", arn or "")
    return m.group(1) if m else None


def in_scope(r):
    src, name = r.get("eventSource"), r.get("eventName")
    if src == "sts.amazonaws.com" and name in SCOPE_STS:
        return True
    if src == "signin.amazonaws.com" and name == "SwitchRole":
        return True
    return bool(STS_MSG_RE.search(r.get("errorMessage") or ""))


def is_failure(r):
    if r.get("errorCode"):
        return True
    resp = r.get("responseElements")
    return isinstance(resp, dict) and resp.get("SwitchRole") == "Failure"


def target_role_arn(r):
    if r.get("eventName") == "AssumeRoot":
        return None
    rp = r.get("requestParameters")
    if isinstance(rp, dict) and rp.get("roleArn"):
        return rp["roleArn"]
    for res in r.get("resources") or []:
        if isinstance(res, dict) and res.get("type") == "AWS::IAM::Role" and res.get("ARN"):
            return res["ARN"]
    m = MSG_ROLE_RE.search(r.get("errorMessage") or "")
    if m:
        return m.group(1).rstrip('".')
    return None


def classify(r, all_denied=False, include_context=False):
    """Returns None (not selected) or (cause_id, confidence, [secondary causes])."""
    ui = r.get("userIdentity") or {}
    utype = ui.get("type")
    if in_scope(r):
        if utype == "AWSAccount" or not is_failure(r):
            return ("not_assume_failure", "certain", []) if include_context else None
    else:
        code = r.get("errorCode") or ""
        if all_denied and ("AccessDenied" in code or "Unauthorized" in code):
            return ("not_assume_failure", "certain", [])
        return None

    name = r.get("eventName")
    code = norm_code(r.get("errorCode"))
    msg = r.get("errorMessage") or ""
    saml = name == "AssumeRoleWithSAML" or (name != "AssumeRoleWithWebIdentity" and utype == "SAMLUser")
    oidc = name == "AssumeRoleWithWebIdentity" or (name != "AssumeRoleWithSAML" and utype == "WebIdentityUser")
    rp = r.get("requestParameters") if isinstance(r.get("requestParameters"), dict) else {}
    target = target_role_arn(r)
    caller_acct = ui.get("accountId") or r.get("recipientAccountId") or arn_account(ui.get("arn"))
    if name == "AssumeRoot":
        tp = rp.get("targetPrincipal")
        role_acct = tp if tp and re.fullmatch(r"[0-9]{12}", tp) else arn_account(tp)
    else:
        m = re.match(r"^arn:[^:]+:iam::([0-9]{12}):role/", target or "")
        role_acct = m.group(1) if m else None
    cross = None if (saml or oidc or not caller_acct or not role_acct) else role_acct != caller_acct

    # step 1: §3 code map
    c = None
    if code == "RegionDisabled":
        c = "sts_region_disabled"
    elif code == "ExpiredToken":
        c = "saml_assertion_expired" if saml else "web_identity_token_expired" if oidc else "caller_credentials_expired"
    elif code in ("InvalidClientTokenId", "SignatureDoesNotMatch", "IncompleteSignature"):
        c = "caller_credentials_invalid"
    elif code == "ValidationError":
        if "1 hour session limit for roles assumed by role chaining" in msg:
            c = "chained_session_duration_exceeded"
        elif "exceeds the MaxSessionDuration" in msg or "exceeds MaxSessionDuration" in msg:
            c = "duration_exceeds_max_session"
        elif "'roleSessionName'" in msg:
            c = "invalid_session_name"
        elif "'sourceIdentity'" in msg or "Source Identity" in msg:
            c = "invalid_source_identity"
        elif "roleArn" in msg or " is invalid" in msg or (target is not None and not ROLE_ARN_RE.match(target)):
            c = "role_arn_malformed"
        elif "tags" in msg or "Tag" in msg:
            c = "session_tags_invalid"
        else:
            c = "unknown_failure"
    elif code == "PackedPolicyTooLarge":
        c = "packed_policy_too_large"
    elif code == "MalformedPolicyDocument":
        c = "malformed_session_policy"
    elif code == "InvalidIdentityToken":
        if saml:
            c = "saml_provider_not_found" if "Specified provider doesn't exist" in msg else "saml_invalid_response"
        elif oidc:
            c = ("oidc_provider_not_found" if "No OpenIDConnect provider" in msg else
                 "oidc_audience_mismatch" if "Incorrect token audience" in msg else "web_identity_token_invalid")
        else:
            c = "unknown_failure"
    elif code == "IDPCommunicationError":
        c = "oidc_idp_unreachable"
    elif code == "IDPRejectedClaim":
        c = "idp_rejected_claim"
    elif code == "Throttling":
        c = "throttled"
    if c:
        return (c, "possible" if c == "unknown_failure" else "certain", [])

    primary, conf, secs = None, None, []
    # step 2
    if utype == "Root":
        primary, conf = "root_user_cannot_assume", "certain"
    # step 3
    if primary is None:
        if "MultiFactorAuthentication failed" in msg:
            primary = "mfa_device_invalid" if "unable to validate MFA code" in msg else "mfa_invalid_code"
            conf = "certain"
        elif "Roles may not be assumed by root" in msg:
            primary, conf = "root_user_cannot_assume", "certain"
        elif "sts:SetSourceIdentity" in msg:
            req_si = rp.get("sourceIdentity")
            inh_si = (ui.get("sessionContext") or {}).get("sourceIdentity")
            if req_si and inh_si and req_si != inh_si:
                primary, conf, secs = "source_identity_changed_in_chain", "likely", ["set_source_identity_not_allowed"]
            else:
                primary, conf = "set_source_identity_not_allowed", "certain"
        elif "sts:TagSession" in msg:
            primary, conf = "tag_session_not_allowed", "certain"
        elif not message_truncated(msg):
            for lit, cause in POLICY_LITERALS:
                hit = lit.search(msg) if hasattr(lit, "search") else lit in msg
                if hit:
                    primary, conf = cause, "certain"
                    if cause == "scp_deny" and "VPC endpoint policy" in msg:
                        secs = ["vpc_endpoint_policy_deny"]
                    break
        if primary is None:
            if "Not authorized to perform sts:AssumeRoleWithSAML" in msg:
                primary, conf = "saml_not_authorized", "certain"
                # §2.26 hints: principalTags -> TagSession, sourceIdentity -> SetSourceIdentity
                if rp.get("principalTags"):
                    secs.append("tag_session_not_allowed")
                if rp.get("sourceIdentity"):
                    secs.append("set_source_identity_not_allowed")
            elif "Not authorized to perform sts:AssumeRoleWithWebIdentity" in msg:
                primary, conf = "web_identity_not_authorized", "certain"
    # step 4
    if primary is None:
        if target:
            rpart = arn_partition(target)
            cpart = None
            if ui.get("arn") and not (saml or oidc) and utype != "AWSService":
                cpart = arn_partition(ui.get("arn"))
            if rpart and ((cpart and cpart != rpart) or region_partition(r.get("awsRegion")) != rpart):
                primary = "cross_partition"
            elif not ROLE_ARN_RE.match(target):
                primary = "role_arn_malformed"
            elif utype == "AssumedRole" and ((ui.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn") == target:
                primary = "self_assume_without_explicit_trust"
        if primary is None and r.get("eventSource") == "signin.amazonaws.com" and name == "SwitchRole":
            primary = "console_switch_role_failed"
        if primary is None and (utype == "AWSService" or (ui.get("invokedBy") or "").endswith(".amazonaws.com")
                                or SERVICE_SUBJECT_RE.search(msg)):
            primary = "service_trust_missing"
        if primary is None and target and utype == "IAMUser":
            rname = target.rsplit("/", 1)[-1]
            if rname.startswith("AWSServiceRoleFor") or rname.startswith("AWSReservedSSO_"):
                primary = "trust_policy_principal_not_allowed"
        if primary:
            conf = "likely"
    # step 7 (fallback)
    if primary is None:
        conf = "possible"
        if code == "AccessDenied":
            primary = "cross_account_denied_ambiguous" if cross is True else "same_account_denied_ambiguous"
        else:
            primary = "unknown_failure"
    # step 6 hints: AccessDenied + eventName AssumeRole only, secondary only
    if code == "AccessDenied" and name == "AssumeRole":
        hints = []
        if cross is True:
            hints.append("external_id_mismatch" if rp.get("externalId") else "external_id_missing")
        mfa_attr = ((ui.get("sessionContext") or {}).get("attributes") or {}).get("mfaAuthenticated")
        if not rp.get("serialNumber") and (mfa_attr == "false" or
                                           (utype == "IAMUser" and (ui.get("accessKeyId") or "").startswith("AKIA"))):
            hints.append("mfa_required_not_provided")
        if utype == "AssumedRole":
            hints.append("role_chaining_wrong_principal")
        for h in hints:
            if h != primary and h not in secs:
                secs.append(h)
    return (primary, conf, secs)


# --------------------------------------------------------------------------- generator
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "sample-logs")
CASES_DIR = os.path.join(ROOT, "tests", "fixtures", "cases")
A, B, C = "111122223333", "444455556666", "777788889999"
X, Y = "123456789012", "210987654321"
ACCOUNTS = (A, B, C)
REGIONS = ("us-east-1", "us-west-2", "eu-west-1")
TRAIL = "org-trail"
BUCKET = "example-org-cloudtrail-111122223333"
NS = uuid.UUID("0c4f7d52-9e1a-4b8e-8f51-5d3e2a7b6c90")
ALNUM = string.ascii_letters + string.digits
UA_CLI = "aws-cli/2.17.50 md/awscrt#0.21.2 ua/2.0 os/linux#6.1.0-25-amd64 md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#debian.12 md/prompt#off"
UA_BOTO = "Boto3/1.35.20 md/Botocore#1.35.20 ua/2.0 os/linux#5.10.225-213.878.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.20"
UA_GO = "aws-sdk-go-v2/1.30.5 ua/2.1 os/linux lang/go#1.22.7 md/GOOS#linux md/GOARCH#amd64 api/sts#1.30.7"
UA_JS = "aws-sdk-js/3.654.0 ua/2.1 os/linux#6.5.0-1025-azure lang/js md/nodejs#20.17.0 api/sts#3.654.0"
UA_CONSOLE = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0"

# (account, region, day, HHMM of delivery): one CloudTrail log file each
SLOTS = [
    (A, "us-east-1", 5, "0805"), (A, "us-east-1", 5, "1340"), (A, "us-west-2", 5, "0920"), (A, "eu-west-1", 5, "1010"),
    (B, "us-east-1", 5, "1155"), (B, "us-west-2", 5, "1530"), (C, "us-east-1", 5, "1645"),
    (A, "us-east-1", 6, "0750"), (A, "us-east-1", 6, "1915"), (A, "us-west-2", 6, "1235"), (B, "us-east-1", 6, "0905"),
    (B, "eu-west-1", 6, "1420"), (C, "us-east-1", 6, "0215"), (C, "us-east-1", 6, "0220"), (C, "eu-west-1", 6, "1800"),
    (A, "us-east-1", 7, "1410"), (A, "us-east-1", 7, "1425"), (A, "eu-west-1", 7, "0845"), (B, "us-east-1", 7, "1030"),
    (C, "us-west-2", 7, "2105"),
]
DUPLICATE_SLOT = 4          # (B, us-east-1, day 5): delivered twice under two keys
ENUM_SLOTS = (12, 13)       # role-enumeration burst
CI_SLOT = 4                 # CI role chained with a bad duration
SAML_SLOTS = (15, 16)       # SAML IdP certificate rotated
TARGET_RECORDS = 2000


class Gen:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.n = 0

    def uid(self, *parts):
        self.n += 1
        return str(uuid.uuid5(NS, "/".join(parts) + "/%d" % self.n))

    def key(self, prefix, n=16):
        return prefix + "".join(self.rng.choice(string.ascii_uppercase + "234567") for _ in range(n))


G = Gen(20261005)


def slot_end(slot):
    acct, region, day, hhmm = slot
    return dt.datetime(2026, 10, day, int(hhmm[:2]), int(hhmm[2:]), tzinfo=dt.timezone.utc)


def fmt(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_t(s):
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


def rand_time(slot, spread=12 * 60):
    return slot_end(slot) - dt.timedelta(seconds=G.rng.randint(45, spread))


def user_ui(acct, name, key="AKIA"):
    return {"type": "IAMUser", "principalId": "AIDA" + hashlib.sha1((acct + name).encode()).hexdigest()[:17].upper(),
            "arn": "arn:aws:iam::%s:user/%s" % (acct, name), "accountId": acct,
            "accessKeyId": key + hashlib.sha1((key + acct + name).encode()).hexdigest()[:16].upper(), "userName": name}


def role_ui(acct, rname, session, t, mfa="false"):
    rid = "AROA" + hashlib.sha1((acct + rname).encode()).hexdigest()[:17].upper()
    return {"type": "AssumedRole", "principalId": "%s:%s" % (rid, session),
            "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (acct, rname, session), "accountId": acct,
            "accessKeyId": "ASIA" + hashlib.sha1((acct + rname + session).encode()).hexdigest()[:16].upper(),
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": rid,
                                                 "arn": "arn:aws:iam::%s:role/%s" % (acct, rname), "accountId": acct,
                                                 "userName": rname},
                               "webIdFederationData": {},
                               "attributes": {"creationDate": fmt(t - dt.timedelta(minutes=G.rng.randint(3, 50))),
                                              "mfaAuthenticated": mfa}}}


def base(slot, ui, src, name, t=None, ua=UA_CLI, ip=None, rp=None, resp=None, code=None, msg=None, read_only=True,
         resources=None, event_type="AwsApiCall", region=None, aed=None, ver="1.09", recipient=None, mgmt=True, shared=None):
    acct, sregion = slot[0], slot[1]
    t = t or rand_time(slot)
    r = {"eventVersion": ver, "userIdentity": ui, "eventTime": fmt(t), "eventSource": src, "eventName": name,
         "awsRegion": region or sregion, "sourceIPAddress": ip or G.rng.choice(["198.51.100.%d" % G.rng.randint(2, 250), "203.0.113.%d" % G.rng.randint(2, 250)]),
         "userAgent": ua}
    if code:
        r["errorCode"] = code
    if msg:
        r["errorMessage"] = msg
    r["requestParameters"] = rp
    r["responseElements"] = resp
    if aed:
        r["additionalEventData"] = aed
    r["requestID"] = G.uid("req", name)
    r["eventID"] = G.uid("evt", name)
    if read_only is not None:
        r["readOnly"] = read_only
    if resources:
        r["resources"] = resources
    r["eventType"] = event_type
    r["managementEvent"] = mgmt
    r["recipientAccountId"] = recipient or acct
    if shared:
        r["sharedEventID"] = shared
    r["eventCategory"] = "Management" if mgmt else "Data"
    host = "%s.%s.amazonaws.com" % (src.split(".")[0], r["awsRegion"])
    r["tlsDetails"] = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": host}
    return r


def creds(t, hours=1):
    return {"accessKeyId": G.key("ASIA"), "sessionToken": "IQoJb3JpZ2luX2Vj" + "".join(G.rng.choice(ALNUM) for _ in range(40)),
            "expiration": (t + dt.timedelta(hours=hours)).strftime("%b %-d, %Y, %-I:%M:%S %p")}


# ------------------------------------------------------------------ background traffic
PEOPLE = {A: ["alice", "henry", "dana"], B: ["bob", "erin"], C: ["carol.ops", "frank"]}
APP_ROLES = {A: ["ec2-app-instance", "lambda-exec-orders", "ecs-task-web"], B: ["ec2-build-agent", "lambda-exec-ci"], C: ["sandbox-instance"]}
SUCCESS_ROLES = {A: ["ops-readonly", "billing-viewer", "ReadOnly"], B: ["dev-poweruser", "ci-artifacts"], C: ["sandbox-admin"]}


def some_session(slot, t):
    acct = slot[0]
    rn = G.rng.choice(APP_ROLES[acct])
    sess = "i-%017x" % G.rng.getrandbits(68) if "ec2" in rn or "instance" in rn else G.rng.choice(["orders-fn", "web-task-3f2a", "ci-build"])
    return role_ui(acct, rn, sess, t)


def bg_ec2(slot):
    t = rand_time(slot)
    name = G.rng.choice(["DescribeInstances", "DescribeSecurityGroups", "DescribeVolumes", "DescribeSubnets", "DescribeNetworkInterfaces"])
    rp = {"maxResults": 1000} if name != "DescribeInstances" else {"instancesSet": {}, "filterSet": {}}
    return base(slot, some_session(slot, t), "ec2.amazonaws.com", name, t=t, ua=UA_BOTO, rp=rp, ip="10.%d.%d.%d" % (G.rng.randint(0, 40), G.rng.randint(0, 255), G.rng.randint(2, 250)))


def bg_s3(slot):
    t = rand_time(slot)
    acct = slot[0]
    bucket = "%s-data-%s" % (G.rng.choice(["orders", "logs", "artifacts"]), acct)
    key = "%04d/%02d/part-%05d.parquet" % (2026, 10, G.rng.randint(0, 99999))
    return base(slot, some_session(slot, t), "s3.amazonaws.com", "GetObject", t=t, ua="[aws-sdk-java/2.28.6 Linux/5.10 OpenJDK_64-Bit_Server_VM/21.0.4]",
                rp={"bucketName": bucket, "key": key, "Host": "%s.s3.%s.amazonaws.com" % (bucket, slot[1])},
                resources=[{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::%s/%s" % (bucket, key)},
                           {"accountId": acct, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::%s" % bucket}],
                aed={"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256", "bytesTransferredIn": 0, "bytesTransferredOut": G.rng.randint(2000, 900000),
                     "AuthenticationMethod": "AuthHeader", "x-amz-id-2": "EXAMPLE" + "".join(G.rng.choice(ALNUM) for _ in range(20))},
                mgmt=False, ip="10.1.%d.%d" % (G.rng.randint(0, 255), G.rng.randint(2, 250)))


def bg_kms(slot):
    t = rand_time(slot)
    acct = slot[0]
    key = "arn:aws:kms:%s:%s:key/%s" % (slot[1], acct, str(uuid.UUID(int=G.rng.getrandbits(128), version=4)))
    return base(slot, {"type": "AWSService", "invokedBy": "secretsmanager.amazonaws.com"}, "kms.amazonaws.com", "Decrypt", t=t,
                ua="secretsmanager.amazonaws.com", ip="secretsmanager.amazonaws.com",
                rp={"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": {"SecretARN": "arn:aws:secretsmanager:%s:%s:secret:db-creds-AbCdEf" % (slot[1], acct)}},
                resources=[{"accountId": acct, "type": "AWS::KMS::Key", "ARN": key}])


def bg_assume_ok(slot, cross=None):
    """Successful AssumeRole in the caller's trail (plus the role owner's AWSAccount copy when cross-account)."""
    t = rand_time(slot)
    acct = slot[0]
    if G.rng.random() < 0.5:
        svc = G.rng.choice(["ec2.amazonaws.com", "lambda.amazonaws.com", "ecs-tasks.amazonaws.com"])
        rn = G.rng.choice(APP_ROLES[acct])
        sess = "i-%017x" % G.rng.getrandbits(68) if svc.startswith("ec2") else "%x" % G.rng.getrandbits(64)
        ui, ua, ip = {"type": "AWSService", "invokedBy": svc}, svc, svc
        rarn = "arn:aws:iam::%s:role/%s" % (acct, rn)
    else:
        user = G.rng.choice(PEOPLE[acct])
        ui, ua, ip = user_ui(acct, user), UA_CLI + " md/command#sts.assume-role", None
        rn = G.rng.choice(SUCCESS_ROLES[acct])
        sess = user
        rarn = "arn:aws:iam::%s:role/%s" % (acct, rn)
    out = [_assume_ok(slot, ui, rarn, sess, t, ua, ip)]
    return out


def _assume_ok(slot, ui, rarn, sess, t, ua, ip, recipient=None, shared=None):
    racct = rarn.split(":")[4]
    rname = rarn.rsplit("/", 1)[-1]
    resp = {"credentials": creds(t), "assumedRoleUser": {"assumedRoleId": "AROA%s:%s" % (hashlib.sha1((racct + rname).encode()).hexdigest()[:17].upper(), sess),
                                                         "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (racct, rname, sess)}}
    return base(slot, ui, "sts.amazonaws.com", "AssumeRole", t=t, ua=ua, ip=ip, rp={"roleArn": rarn, "roleSessionName": sess, "durationSeconds": 3600},
                resp=resp, resources=[{"accountId": racct, "type": "AWS::IAM::Role", "ARN": rarn}], recipient=recipient, shared=shared,
                aed={"RequestDetails": {"awsServingRegion": slot[1], "endpointType": "regional"}}, ver="1.08")


def cross_pair(caller_slot, owner_slot, user, rarn):
    """A successful cross-account AssumeRole: caller copy in caller trail, AWSAccount copy in owner trail."""
    t = rand_time(caller_slot)
    shared = G.uid("shared", rarn)
    ui = user_ui(caller_slot[0], user)
    c1 = _assume_ok(caller_slot, ui, rarn, user, t, UA_CLI + " md/command#sts.assume-role", None, shared=shared)
    owner_ui = {"type": "AWSAccount", "principalId": ui["principalId"], "accountId": caller_slot[0]}
    c2 = copy.deepcopy(c1)
    c2["userIdentity"] = owner_ui
    c2["recipientAccountId"] = owner_slot[0]
    c2["eventID"] = G.uid("evt", "owner-copy")
    return c1, c2


def bg_console_login(slot):
    t = rand_time(slot)
    acct = slot[0]
    user = G.rng.choice(PEOPLE[acct])
    ui = user_ui(acct, user)
    ui["accessKeyId"] = ""
    ok = G.rng.random() < 0.85
    r = base(slot, ui, "signin.amazonaws.com", "ConsoleLogin", t=t, ua=UA_CONSOLE, rp=None,
             resp={"ConsoleLogin": "Success" if ok else "Failure"}, msg=None if ok else "Failed authentication", read_only=False,
             event_type="AwsConsoleSignIn", aed={"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAUsed": "Yes" if ok else "No"})
    r["tlsDetails"]["clientProvidedHostHeader"] = "signin.aws.amazon.com"
    return r


def bg_decoy_denied(slot):
    """Non-assume denied records: counted only with --all-denied."""
    t = rand_time(slot)
    acct, region = slot[0], slot[1]
    k = G.rng.randrange(4)
    s = some_session(slot, t)
    if k == 0:
        return base(slot, s, "ec2.amazonaws.com", "DescribeInstanceAttribute", t=t, ua=UA_GO, code="Client.UnauthorizedOperation",
                    msg="You are not authorized to perform this operation. User: %s is not authorized to perform: ec2:DescribeInstanceAttribute on resource: arn:aws:ec2:%s:%s:instance/i-0%016x because no identity-based policy allows the ec2:DescribeInstanceAttribute action. Encoded authorization failure message: EXAMPLE%s" % (s["arn"], region, acct, G.rng.getrandbits(64), "".join(G.rng.choice(ALNUM) for _ in range(60))),
                    rp={"instanceId": "i-0%016x" % G.rng.getrandbits(64), "attribute": "userData"})
    if k == 1:
        bucket = "finance-reports-%s" % acct
        return base(slot, s, "s3.amazonaws.com", "GetObject", t=t, ua="[aws-cli/2.17.50]", code="AccessDenied", msg="Access Denied",
                    rp={"bucketName": bucket, "key": "q3/ledger.csv", "Host": "%s.s3.%s.amazonaws.com" % (bucket, region)},
                    resources=[{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::%s/q3/ledger.csv" % bucket}], mgmt=False)
    if k == 2:
        return base(slot, s, "kms.amazonaws.com", "Decrypt", t=t, ua=UA_BOTO, code="AccessDeniedException",
                    msg="User: %s is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:%s:%s:key/%s because no resource-based policy allows the kms:Decrypt action" % (s["arn"], region, acct, str(uuid.UUID(int=G.rng.getrandbits(128), version=4))),
                    rp={"encryptionAlgorithm": "SYMMETRIC_DEFAULT"})
    u = user_ui(acct, G.rng.choice(PEOPLE[acct]))
    return base(slot, u, "sts.amazonaws.com", "GetSessionToken", t=t, code="AccessDenied",
                msg="User: %s is not authorized to perform: sts:GetSessionToken because no identity-based policy allows the sts:GetSessionToken action" % u["arn"],
                rp={"durationSeconds": 43200})


def iam_update_trust_decoy(slot, denied):
    """iam:UpdateAssumeRolePolicy (global, logged in us-east-1) with AssumeRole inside its strings."""
    t = rand_time(slot)
    acct = slot[0]
    u = user_ui(acct, "henry")
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:root" % B},
                                                              "Action": ["sts:AssumeRole", "sts:TagSession"],
                                                              "Condition": {"StringEquals": {"sts:ExternalId": "partner-2026"}}}]})
    r = base(slot, u, "iam.amazonaws.com", "UpdateAssumeRolePolicy", t=t, rp={"roleName": "AssumeRoleAuditTarget", "policyDocument": doc},
             read_only=False, region="us-east-1")
    r["tlsDetails"]["clientProvidedHostHeader"] = "iam.amazonaws.com"
    if denied:
        r["errorCode"] = "AccessDenied"
        r["errorMessage"] = ("User: %s is not authorized to perform: iam:UpdateAssumeRolePolicy on resource: role AssumeRoleAuditTarget "
                             "because no identity-based policy allows the iam:UpdateAssumeRolePolicy action" % u["arn"])
        # keep key order close to CloudTrail's
        r = {k: r[k] for k in ["eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress", "userAgent",
                               "errorCode", "errorMessage", "requestParameters", "responseElements", "requestID", "eventID", "readOnly", "eventType",
                               "managementEvent", "recipientAccountId", "eventCategory", "tlsDetails"]}
    return r


# ------------------------------------------------------------------ stories
ENUM_NAMES = ["OrganizationAccountAccessRole", "Admin", "Administrator", "admin", "AdministratorAccess", "Deploy", "deploy", "DevOps",
              "ReadOnly", "readonly", "SecurityAudit", "Auditor", "Billing", "CloudFormationExecutionRole", "Jenkins", "jenkins",
              "terraform", "Terraform", "github-actions", "gitlab-runner", "Lambda", "EC2Role", "eks-admin", "PowerUser", "Developer",
              "Support", "Backup", "DataScientist", "Okta", "SSOAdmin", "breakglass", "BreakGlass", "root", "sre", "ops"]


def story_enumeration():
    """A leaked key of build-bot (account C) probes role names across accounts, 02:04-02:19 on day 6."""
    ui = user_ui(C, "build-bot")
    out = []
    start = dt.datetime(2026, 10, 6, 2, 4, 11, tzinfo=dt.timezone.utc)
    i = 0
    for target_acct in (A, X, Y):
        for nm in ENUM_NAMES[: 18 if target_acct == A else 12]:
            t = start + dt.timedelta(seconds=i * 13 + G.rng.randint(0, 5))
            slot = SLOTS[ENUM_SLOTS[0] if t < slot_end(SLOTS[ENUM_SLOTS[0]]) else ENUM_SLOTS[1]]
            rarn = "arn:aws:iam::%s:role/%s" % (target_acct, nm)
            r = base(slot, ui, "sts.amazonaws.com", "AssumeRole", t=t, ua="aws-sdk-go-v2/1.30.5 ua/2.1 os/linux lang/go#1.22.7 md/GOOS#linux md/GOARCH#amd64 api/sts#1.30.7 m/E",
                     ip="203.0.113.66", code="AccessDenied",
                     msg="User: %s is not authorized to perform: sts:AssumeRole on resource: %s" % (ui["arn"], rarn),
                     rp={"roleArn": rarn, "roleSessionName": "session-%d" % (1790820000 + i), "durationSeconds": 900}, ver="1.08")
            out.append((slot, r))
            i += 1
    return out


def story_ci_chained():
    """GitHub Actions gets gha-ci in B, then chains into deploy in A asking for 2 hours (several runs)."""
    slot = SLOTS[CI_SLOT]
    out = []
    for run in range(6):
        t0 = slot_end(slot) - dt.timedelta(minutes=11) + dt.timedelta(seconds=run * 95)
        sub = "repo:example-org/platform:ref:refs/heads/main"
        wi = {"type": "WebIdentityUser", "principalId": "arn:aws:iam::%s:oidc-provider/token.actions.githubusercontent.com:sts.amazonaws.com:%s" % (B, sub),
              "userName": sub, "identityProvider": "arn:aws:iam::%s:oidc-provider/token.actions.githubusercontent.com" % B}
        rarn = "arn:aws:iam::%s:role/gha-ci" % B
        ok = base(slot, wi, "sts.amazonaws.com", "AssumeRoleWithWebIdentity", t=t0, ua=UA_JS, ip="192.0.2.%d" % (60 + run),
                  rp={"roleArn": rarn, "roleSessionName": "GitHubActions", "durationSeconds": 3600},
                  resp={"credentials": creds(t0), "subjectFromWebIdentityToken": sub, "assumedRoleUser": {"assumedRoleId": "AROA%s:GitHubActions" % hashlib.sha1((B + "gha-ci").encode()).hexdigest()[:17].upper(),
                                                                                                          "arn": "arn:aws:sts::%s:assumed-role/gha-ci/GitHubActions" % B},
                        "provider": "arn:aws:iam::%s:oidc-provider/token.actions.githubusercontent.com" % B, "audience": "sts.amazonaws.com"},
                  resources=[{"accountId": B, "type": "AWS::IAM::Role", "ARN": rarn}],
                  aed={"identityProviderConnectionVerificationMethod": "IAMTrustStore", "RequestDetails": {"awsServingRegion": "us-east-1", "endpointType": "regional"}})
        out.append((slot, ok))
        t1 = t0 + dt.timedelta(seconds=4)
        chained = role_ui(B, "gha-ci", "GitHubActions", t1)
        chained["sessionContext"]["attributes"]["creationDate"] = fmt(t0)
        chained["sessionContext"]["webIdFederationData"] = {"federatedProvider": "arn:aws:iam::%s:oidc-provider/token.actions.githubusercontent.com" % B, "attributes": {}}
        bad = base(slot, chained, "sts.amazonaws.com", "AssumeRole", t=t1, ua=UA_JS, ip="192.0.2.%d" % (60 + run), code="ValidationError",
                   msg="The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
                   rp={"roleArn": "arn:aws:iam::%s:role/deploy" % A, "roleSessionName": "GitHubActions", "durationSeconds": 7200})
        out.append((slot, bad))
    return out


def story_saml_rotation():
    """Day 7: logins work until the IdP signing certificate is rotated at 14:02, then every SAML login fails."""
    out = []
    users = ["alice@example.com", "henry@example.com", "dana@example.com", "ravi@example.com", "mei@example.com", "tomas@example.com", "li@example.com"]
    idp = "bdGOnTesti4+ZT5NEZ6T3IkH1w="
    for i in range(26):
        slot = SLOTS[SAML_SLOTS[0] if i < 12 else SAML_SLOTS[1]]
        t = slot_end(slot) - dt.timedelta(seconds=60 + (12 - i % 12) * 50 + G.rng.randint(0, 30))
        user = users[i % len(users)]
        rn = "saml-admin" if i % 3 == 0 else "saml-dev"
        ui = {"type": "SAMLUser", "principalId": "%s:%s" % (idp, user), "userName": user, "identityProvider": idp}
        rp = {"roleArn": "arn:aws:iam::%s:role/%s" % (A, rn), "principalArn": "arn:aws:iam::%s:saml-provider/Okta" % A, "durationSeconds": 3600}
        before = t < dt.datetime(2026, 10, 7, 14, 2, tzinfo=dt.timezone.utc)
        if before:
            r = base(slot, ui, "sts.amazonaws.com", "AssumeRoleWithSAML", t=t, ua="AWS Signin, aws-internal/3", ip="192.0.2.%d" % (100 + i), rp=rp,
                     resp={"credentials": creds(t), "assumedRoleUser": {"assumedRoleId": "AROAEXAMPLE%s:%s" % (rn.upper().replace("-", ""), user),
                                                                        "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (A, rn, user)},
                           "subject": user, "subjectType": "persistent", "issuer": "http://www.okta.com/exk1example", "audience": "https://signin.aws.amazon.com/saml",
                           "nameQualifier": idp},
                     resources=[{"accountId": A, "type": "AWS::IAM::Role", "ARN": rp["roleArn"]},
                                {"accountId": A, "type": "AWS::IAM::SAMLProvider", "ARN": rp["principalArn"]}])
        else:
            r = base(slot, ui, "sts.amazonaws.com", "AssumeRoleWithSAML", t=t, ua="AWS Signin, aws-internal/3", ip="192.0.2.%d" % (100 + i), rp=rp,
                     code="InvalidIdentityToken", msg="Response signature invalid")
        r["tlsDetails"]["clientProvidedHostHeader"] = "signin.aws.amazon.com"
        out.append((slot, r))
    return out


# ------------------------------------------------------------------ log-context stories
# Records that only `--log-context` joins (causes.md §4 step 5, docs/INVENTORY.md "The logs themselves as context").
# They draw from their own generator and are added after everything else, so the rest of the tree does not move.
# Without the flag each failure keeps its log-only cause (the oracle computes it like any other record).
CTX = Gen(20261006)
DELETED_ROLE = "legacy-etl-import"      # (a) deleted on day 6, still assumed by erin's job in B
NARROWED_ROLE = "partner-readonly"      # (b) trust policy narrowed to B on day 6; carol.ops (C) is shut out
CHAIN_FROM, CHAIN_TO = "ops-jump", "deploy-prod"   # (c) dana assumes deploy-prod directly, later through ops-jump
CONTEXT_STORY_ROLES = {DELETED_ROLE, NARROWED_ROLE, CHAIN_TO}


class own_gen:
    """Swap the module generator for CTX while a story draws its ids, keys and addresses."""

    def __enter__(self):
        global G
        self.saved, G = G, CTX

    def __exit__(self, *exc):
        global G
        G = self.saved


def at(day, hhmm, ss=0):
    return dt.datetime(2026, 10, day, int(hhmm[:2]), int(hhmm[2:]), ss, tzinfo=dt.timezone.utc)


def iam_change(slot, who, name, t, rp, resp=None):
    r = base(slot, user_ui(slot[0], who), "iam.amazonaws.com", name, t=t, rp=rp, resp=resp, read_only=False, region="us-east-1")
    r["tlsDetails"]["clientProvidedHostHeader"] = "iam.amazonaws.com"
    return r


def denied_assume(slot, ui, rarn, sess, t, ua):
    """AccessDenied on sts:AssumeRole with the generic message (which layer denied is not in it)."""
    return base(slot, ui, "sts.amazonaws.com", "AssumeRole", t=t, ua=ua, code="AccessDenied",
                msg="User: %s is not authorized to perform: sts:AssumeRole on resource: %s" % (ui["arn"], rarn),
                rp={"roleArn": rarn, "roleSessionName": sess, "durationSeconds": 3600}, ver="1.08",
                aed={"RequestDetails": {"awsServingRegion": slot[1], "endpointType": "regional"}})


def story_deleted_role():
    """(a) Day 6, 07:41: henry deletes legacy-etl-import in A; erin's nightly import in B keeps assuming it."""
    out = []
    rarn = "arn:aws:iam::%s:role/%s" % (A, DELETED_ROLE)
    out.append((SLOTS[7], iam_change(SLOTS[7], "henry", "DeleteRole", at(6, "0741", 12), {"roleName": DELETED_ROLE})))
    for slot, t in ((SLOTS[10], at(6, "0858", 3)), (SLOTS[11], at(6, "1402", 41))):
        out.append((slot, denied_assume(slot, user_ui(B, "erin"), rarn, "etl-import", t, UA_BOTO)))
    return out


def story_narrowed_trust():
    """(b) Day 6, 07:33: dana narrows partner-readonly's trust policy to account B; carol.ops (C) is denied that evening."""
    out = []
    rarn = "arn:aws:iam::%s:role/%s" % (A, NARROWED_ROLE)
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "PartnerB", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:root" % B},
                                                              "Action": "sts:AssumeRole"}]})
    out.append((SLOTS[7], iam_change(SLOTS[7], "dana", "UpdateAssumeRolePolicy", at(6, "0733", 27), {"roleName": NARROWED_ROLE, "policyDocument": doc})))
    for t in (at(6, "1748", 9), at(6, "1749", 52)):
        out.append((SLOTS[14], denied_assume(SLOTS[14], user_ui(C, "carol.ops"), rarn, "carol.ops", t, UA_CLI + " md/command#sts.assume-role")))
    return out


def story_chained_session():
    """(c) dana assumes deploy-prod directly on day 5; on day 6 she assumes ops-jump and, from that session, deploy-prod,
    whose trust policy names her user, not ops-jump: denied."""
    out = []
    direct = "arn:aws:iam::%s:role/%s" % (A, CHAIN_TO)
    jump = "arn:aws:iam::%s:role/%s" % (A, CHAIN_FROM)
    ua = UA_CLI + " md/command#sts.assume-role"
    out.append((SLOTS[1], _assume_ok(SLOTS[1], user_ui(A, "dana"), direct, "dana", at(5, "1318", 30), ua, None)))
    t0 = at(6, "1852", 4)
    ok = _assume_ok(SLOTS[8], user_ui(A, "dana"), jump, "dana", t0, ua, None)
    out.append((SLOTS[8], ok))
    sess = role_ui(A, CHAIN_FROM, "dana", t0)
    sess["accessKeyId"] = ok["responseElements"]["credentials"]["accessKeyId"]
    sess["sessionContext"]["attributes"]["creationDate"] = fmt(t0)
    out.append((SLOTS[8], denied_assume(SLOTS[8], sess, direct, "dana", t0 + dt.timedelta(minutes=11, seconds=37), ua)))
    return out


def context_stories():
    with own_gen():
        return story_deleted_role() + story_narrowed_trust() + story_chained_session()


# ------------------------------------------------------------------ fixture reuse
def fixture_records():
    """Default-option hit records from every fixture file that fit our accounts and regions (new ids and times)."""
    out, covered = [], set()
    by_combo = {}
    for i, s in enumerate(SLOTS):
        by_combo.setdefault((s[0], s[1]), []).append(i)
    rr = 0
    for fn in sorted(os.listdir(CASES_DIR)):
        if not fn.endswith(".json"):
            continue
        doc = json.load(open(os.path.join(CASES_DIR, fn), encoding="utf-8"))
        for it in doc["hits"]:
            r = copy.deepcopy(it["record"])
            acct = r.get("recipientAccountId") or (r.get("userIdentity") or {}).get("accountId") or A
            combo = (acct, r.get("awsRegion"))
            if combo not in by_combo:
                continue
            slots = by_combo[combo]
            slot = SLOTS[slots[rr % len(slots)]]
            rr += 1
            old_t = parse_t(r["eventTime"])
            t = rand_time(slot)
            r["eventTime"] = fmt(t)
            sc = (r.get("userIdentity") or {}).get("sessionContext") or {}
            at = sc.get("attributes") or {}
            if at.get("creationDate"):
                age = old_t - parse_t(at["creationDate"])
                age = dt.timedelta(hours=13) if r.get("errorCode", "").startswith("ExpiredToken") else min(age, dt.timedelta(minutes=40))
                at["creationDate"] = fmt(t - age)
            r["eventID"] = G.uid("evt-fixture", r["eventID"])
            r["requestID"] = G.uid("req-fixture", r["requestID"])
            if r.get("sharedEventID"):
                r["sharedEventID"] = G.uid("shared-fixture", r["sharedEventID"])
            o = it.get("options") or {}
            default_expect = None
            if not o.get("all_denied") and not o.get("include_context"):
                default_expect = it["expect"]
            out.append((slot, r, default_expect))
            covered.add(doc["cause"])
    return out, covered


def gz_bytes(name, payload):
    buf = io.BytesIO()
    with gzip.GzipFile(filename=name, mode="wb", fileobj=buf, mtime=0, compresslevel=9) as f:
        f.write(payload)
    return buf.getvalue()


def log_key(slot, suffix, minute_shift=0):
    acct, region, day, hhmm = slot
    t = slot_end(slot) + dt.timedelta(minutes=minute_shift)
    return "AWSLogs/%s/CloudTrail/%s/%s/%s_CloudTrail_%s_%s_%s.json.gz" % (
        acct, region, t.strftime("%Y/%m/%d"), acct, region, t.strftime("%Y%m%dT%H%MZ"), suffix)


def main():
    files = {i: [] for i in range(len(SLOTS))}
    checks = []
    fx, covered = fixture_records()
    for slot, r, exp in fx:
        files[SLOTS.index(slot)].append(r)
        if exp is not None:
            checks.append((r, exp))
    for slot, r in story_enumeration() + story_ci_chained() + story_saml_rotation():
        files[SLOTS.index(slot)].append(r)
    # cross-account successes: B/bob -> A/cross-account-audit-ro, C/carol.ops -> A/partner-ingest-ro (caller and owner copies)
    pairs = [((4, 0), "bob", "arn:aws:iam::%s:role/cross-account-audit-ro" % A), ((10, 7), "bob", "arn:aws:iam::%s:role/cross-account-audit-ro" % A),
             ((6, 1), "carol.ops", "arn:aws:iam::%s:role/partner-readonly" % A), ((18, 15), "erin", "arn:aws:iam::%s:role/billing-viewer" % A)]
    for (ci, oi), user, rarn in pairs:
        for _ in range(3):
            c1, c2 = cross_pair(SLOTS[ci], SLOTS[oi], user, rarn)
            files[ci].append(c1)
            c2["eventTime"] = fmt(rand_time(SLOTS[oi]))
            files[oi].append(c2)
    # decoys in every file, iam trust-policy updates in us-east-1
    for i, slot in enumerate(SLOTS):
        for _ in range(3):
            files[i].append(bg_decoy_denied(slot))
        if slot[1] == "us-east-1":
            files[i].append(iam_update_trust_decoy(slot, denied=(i % 2 == 1)))
            files[i].append(bg_console_login(slot))
    # fill with ordinary traffic up to TARGET_RECORDS
    total = sum(len(v) for v in files.values())
    per = (TARGET_RECORDS - total) // len(SLOTS)
    for i, slot in enumerate(SLOTS):
        extra = per + (1 if i < (TARGET_RECORDS - total) % len(SLOTS) else 0)
        for _ in range(extra):
            k = G.rng.random()
            if k < 0.38:
                files[i].append(bg_ec2(slot))
            elif k < 0.62:
                files[i].append(bg_s3(slot))
            elif k < 0.80:
                files[i].append(bg_kms(slot))
            elif k < 0.97:
                files[i].extend(bg_assume_ok(slot))
            else:
                files[i].append(bg_console_login(slot) if slot[1] == "us-east-1" else bg_ec2(slot))

    # log-context stories last: they use their own generator and must not shift the records above
    for slot, r in context_stories():
        files[SLOTS.index(slot)].append(r)

    # write
    if os.path.isdir(OUT):
        for dp, dn, fns in os.walk(OUT, topdown=False):
            for fn in fns:
                os.remove(os.path.join(dp, fn))
            for d in dn:
                os.rmdir(os.path.join(dp, d))
    written, total_records, dup_records = [], 0, 0
    digest_entries = []
    for i, slot in enumerate(SLOTS):
        recs = sorted(files[i], key=lambda r: (r["eventTime"], r["eventID"]))
        payload = json.dumps({"Records": recs}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        copies = [log_key(slot, "".join(G.rng.choice(ALNUM) for _ in range(16)))]
        if i == DUPLICATE_SLOT:
            copies.append(log_key(slot, "".join(G.rng.choice(ALNUM) for _ in range(16)), minute_shift=5))
            dup_records = len(recs)
        for key in copies:
            data = gz_bytes(os.path.basename(key)[:-3], payload)
            path = os.path.join(OUT, key)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            written.append((key, recs))
            total_records += len(recs)
            if slot[0] == A and slot[1] == "us-east-1" and slot[2] == 7:
                digest_entries.append({"s3Bucket": BUCKET, "s3Object": key, "hashValue": hashlib.sha256(data).hexdigest(), "hashAlgorithm": "SHA-256",
                                       "newestEventTime": recs[-1]["eventTime"], "oldestEventTime": recs[0]["eventTime"]})
    # digest
    dkey = "AWSLogs/%s/CloudTrail-Digest/us-east-1/2026/10/07/%s_CloudTrail-Digest_us-east-1_%s_us-east-1_20261007T150000Z.json.gz" % (A, A, TRAIL)
    digest = {"awsAccountId": A, "digestStartTime": "2026-10-07T14:00:00Z", "digestEndTime": "2026-10-07T15:00:00Z",
              "digestS3Bucket": BUCKET, "digestS3Object": dkey,
              "digestPublicKeyFingerprint": hashlib.md5(b"trailtriage-sample-key").hexdigest(), "digestSignatureAlgorithm": "SHA256withRSA",
              "newestEventTime": max(e["newestEventTime"] for e in digest_entries), "oldestEventTime": min(e["oldestEventTime"] for e in digest_entries),
              "previousDigestS3Bucket": BUCKET,
              "previousDigestS3Object": dkey.replace("20261007T150000Z", "20261007T140000Z"),
              "previousDigestHashValue": hashlib.sha256(b"previous-digest").hexdigest(), "previousDigestHashAlgorithm": "SHA-256",
              "previousDigestSignature": hashlib.sha512(b"previous-signature").hexdigest(), "logFiles": digest_entries}
    dpath = os.path.join(OUT, dkey)
    os.makedirs(os.path.dirname(dpath), exist_ok=True)
    with open(dpath, "wb") as f:
        f.write(gz_bytes(os.path.basename(dkey)[:-3], json.dumps(digest, separators=(",", ":")).encode()))

    # expected
    seen, failures, all_denied_extra, unique = set(), [], 0, 0
    by_id = {}
    for key, recs in written:
        for r in recs:
            if r["eventID"] in seen:
                continue
            seen.add(r["eventID"])
            unique += 1
            by_id[r["eventID"]] = r
            got = classify(r)
            if got is not None:
                failures.append({"event_id": r["eventID"], "event_time": r["eventTime"], "cause_id": got[0], "confidence": got[1], "secondary_causes": got[2]})
            elif classify(r, all_denied=True) is not None:
                all_denied_extra += 1
    # fixture-derived records must classify exactly as their fixture says
    for r, exp in checks:
        got = classify(r)
        assert (got is not None) == exp["selected"], (r["eventID"], got, exp)
        if got:
            assert got[0] == exp["cause_id"] and got[1] == exp["confidence"], (got, exp)
            if "secondary_causes" in exp:
                assert set(got[2]) == set(exp["secondary_causes"]), (got, exp)
    # no log context that could upgrade a failure (§4 step 5): no successful AssumeRole of a role that a chained caller
    # was denied, no trust-policy update of a denied role, no DeleteRole/CreateRole
    # outside the log-context stories (which exist to give exactly that context)
    def story(arn):
        return (arn or "").rsplit("/", 1)[-1] in CONTEXT_STORY_ROLES
    denied_chained = {target_role_arn(r) for r in by_id.values() if classify(r) and norm_code(r.get("errorCode")) == "AccessDenied"
                      and (r.get("userIdentity") or {}).get("type") == "AssumedRole"}
    ok_targets = {target_role_arn(r) for r in by_id.values() if r.get("eventName", "").startswith("AssumeRole") and not r.get("errorCode")}
    assert {a for a in denied_chained & ok_targets if not story(a)} == set(), denied_chained & ok_targets
    denied_names = {(target_role_arn(r) or "").rsplit("/", 1)[-1] for r in by_id.values() if classify(r)}
    assert "AssumeRoleAuditTarget" not in denied_names
    changed = {(r.get("requestParameters") or {}).get("roleName") for r in by_id.values()
               if r.get("eventName") in ("DeleteRole", "CreateRole") or (r.get("eventName") == "UpdateAssumeRolePolicy" and not r.get("errorCode"))}
    assert changed <= CONTEXT_STORY_ROLES | {"AssumeRoleAuditTarget"}, changed
    failures.sort(key=lambda f: (f["event_time"], f["event_id"]))
    present = set()
    for f in failures:
        present.add(f["cause_id"])
        present.update(f["secondary_causes"])
    if any(classify(r, include_context=True) == ("not_assume_failure", "certain", []) and (r.get("userIdentity") or {}).get("type") == "AWSAccount" for r in by_id.values()):
        present.add("not_assume_failure")
    counts = {}
    for f in failures:
        counts[f["cause_id"]] = counts.get(f["cause_id"], 0) + 1
    expected = {
        "notes": ("files counts CloudTrail log files (the duplicate delivery included; the Digest file excluded). records counts every "
                  "record in those files including the duplicate copy; unique_records = records - duplicate_records. failures lists every "
                  "record default selection keeps, once per eventID; all_denied_extra counts the further unique records selected only with "
                  "--all-denied (errorCode containing AccessDenied or Unauthorized). Expectations come from the plain oracle in "
                  "scripts/make_sample_logs.py (a literal reading of causes.md §1/§3/§4)."),
        "files": len(written), "digest_files": 1, "records": total_records, "duplicate_records": dup_records,
        "unique_records": unique, "selected_default": len(failures), "all_denied_extra": all_denied_extra,
        "cause_counts": dict(sorted(counts.items())),
        "causes_present": sorted(present),
        "failures": [{k: f[k] for k in ("event_id", "cause_id", "confidence", "secondary_causes")} for f in failures],
    }
    with open(os.path.join(ROOT, "tests", "fixtures", "sample-logs-expected.json"), "w", encoding="utf-8") as f:
        head = json.dumps({k: v for k, v in expected.items() if k != "failures"}, indent=1)
        rows = ",\n".join("  " + json.dumps(x) for x in expected["failures"])
        f.write(head[:-2] + ',\n "failures": [\n' + rows + "\n ]\n}\n")
    print("files=%d records=%d unique=%d duplicate=%d failures=%d all_denied_extra=%d causes_present=%d fixture_causes=%d"
          % (len(written), total_records, unique, dup_records, len(failures), all_denied_extra, len(present), len(covered)))
    return expected, covered


if __name__ == "__main__":
    main()
