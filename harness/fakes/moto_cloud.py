"""The fake cloud's S3/IAM/STS server: moto, with credential enforcement on.

Started by the harness with one JSON argument:
  {"host": "127.0.0.1", "port": 9000, "objects": [{"bucket": ..., "key": ..., "body": ...}],
   "roles": ["argo-artifacts"]}
Prints one JSON line with the keys it created, then serves until its stdin closes (the harness
died or is done), so it can never outlive the harness.

Enforcement (environment-facts.md: moto's INITIAL_NO_AUTH_ACTION_COUNT): every HTTP call must be
signed with a key moto issued, so a wrong secret gets 403 SignatureDoesNotMatch and an unknown key
403 InvalidAccessKeyId, as on AWS. The users, keys, roles and objects the harness needs are made
beforehand in this process, through moto's own backends, exactly as its IAM and S3 handlers make
them (moto is pinned in requirements.txt): no boto3 client and no HTTP round trip, which made up a
third of a sandbox's start (a sandbox starts one moto; 9 sandboxes' motos took 9.5 of a warm
run's 28 CPU-seconds, 2026-12-03).
"""
import json
import os
import sys

# Every HTTP call is authenticated: the bootstrap below makes no HTTP call.
os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
# minio-go addresses a non-AWS endpoint path-style; moto would otherwise read the first label of
# the endpoint's host name as a bucket name.
os.environ["S3_IGNORE_SUBDOMAIN_BUCKETNAME"] = "true"

from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402
from moto.iam.models import iam_backends  # noqa: E402
from moto.s3.models import s3_backends  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

REGION = "us-east-1"
ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
ALLOW_S3 = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
# The workflow role reads artifacts and pulls images (ECR's managed read-only policy grants the latter).
ALLOW_ROLE = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
    {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], "Resource": "*"}]})
# On AWS the role trusts pods.eks.amazonaws.com (Pod Identity) and the cluster's OIDC provider (IRSA).
# Here the harness's Pod Identity agent and STS emulator check the token and the subject themselves,
# then assume the role as the admin user; moto evaluates only AWS principals (a Service or Federated
# principal makes its trust check fail with a TypeError), so the trust names that user.
def trust(admin_arn):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": admin_arn}, "Action": "sts:AssumeRole"}]})


def user_with_key(iam, name, policy):
    # As moto's IAM handlers do for CreateUser, PutUserPolicy and CreateAccessKey.
    iam.create_user(REGION, user_name=name, path="/", tags=[])
    iam.put_user_policy(name, "allow", policy)
    key = iam.create_access_key(name)
    return {"access_key_id": key.access_key_id, "secret_access_key": key.secret_access_key}


def main():
    cfg = json.loads(sys.argv[1])
    iam = iam_backends[DEFAULT_ACCOUNT_ID]["global"]
    admin = user_with_key(iam, "authmatrix-admin", ALLOW_ALL)
    admin_arn = iam.get_user("authmatrix-admin").arn
    static = user_with_key(iam, "argo-static", ALLOW_S3)
    roles = {}
    for role in cfg.get("roles", []):
        # As CreateRole with no Path, PermissionsBoundary, Description or Tags.
        created = iam.create_role(role, trust(admin_arn), "/", None, None, [], 3600)
        iam.put_role_policy(role, "artifacts-and-images", ALLOW_ROLE)
        roles[role] = created.arn
    s3 = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    for obj in cfg.get("objects", []):
        if obj["bucket"] not in s3.buckets:
            s3.create_bucket(obj["bucket"], REGION)
        s3.put_object(obj["bucket"], obj["key"], obj["body"].encode())

    server = ThreadedMotoServer(ip_address=cfg["host"], port=cfg["port"], verbose=False)
    server.start()
    endpoint = "http://%s:%d" % (cfg["host"], cfg["port"])
    print(json.dumps({"endpoint": endpoint, "admin": admin, "static": static, "roles": roles}), flush=True)
    sys.stdin.read()  # returns at EOF: the harness is gone
    server.stop()


if __name__ == "__main__":
    main()
