"""The fake cloud's S3/IAM/STS server: moto, with credential enforcement on.

Started by the harness with one JSON argument:
  {"host": "127.0.0.1", "port": 9000, "objects": [{"bucket": ..., "key": ..., "body": ...}],
   "roles": ["argo-artifacts"]}
Prints one JSON line with the keys it created, then serves until its stdin closes (the harness
died or is done), so it can never outlive the harness.

Enforcement (environment-facts.md: moto with INITIAL_NO_AUTH_ACTION_COUNT): the first three calls
(create the admin user, its policy, its key) are let through; every later call must be signed with
a key moto issued, so a wrong secret gets 403 SignatureDoesNotMatch and an unknown key 403
InvalidAccessKeyId, as on AWS.
"""
import json
import os
import sys

BOOTSTRAP_UNAUTHENTICATED_CALLS = 3
os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = str(BOOTSTRAP_UNAUTHENTICATED_CALLS)
# minio-go addresses a non-AWS endpoint path-style; moto would otherwise read the first label of
# the endpoint's host name as a bucket name.
os.environ["S3_IGNORE_SUBDOMAIN_BUCKETNAME"] = "true"

import boto3  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

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


def client(service, endpoint, key=None):
    kwargs = {"endpoint_url": endpoint, "region_name": "us-east-1"}
    if key:
        kwargs.update(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    else:
        # Unsigned-but-counted bootstrap calls still need some key shape for botocore.
        kwargs.update(aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
    return boto3.client(service, **kwargs)


def user_with_key(iam, name, policy):
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="allow", PolicyDocument=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}, key


def main():
    cfg = json.loads(sys.argv[1])
    server = ThreadedMotoServer(ip_address=cfg["host"], port=cfg["port"], verbose=False)
    server.start()
    endpoint = "http://%s:%d" % (cfg["host"], cfg["port"])

    bootstrap_iam = client("iam", endpoint)
    admin, admin_raw = user_with_key(bootstrap_iam, "authmatrix-admin", ALLOW_ALL)
    iam = client("iam", endpoint, admin_raw)
    admin_arn = iam.get_user(UserName="authmatrix-admin")["User"]["Arn"]
    static, _ = user_with_key(iam, "argo-static", ALLOW_S3)
    roles = {}
    for role in cfg.get("roles", []):
        arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(admin_arn))["Role"]["Arn"]
        iam.put_role_policy(RoleName=role, PolicyName="artifacts-and-images", PolicyDocument=ALLOW_ROLE)
        roles[role] = arn
    s3 = client("s3", endpoint, admin_raw)
    buckets = set()
    for obj in cfg.get("objects", []):
        if obj["bucket"] not in buckets:
            s3.create_bucket(Bucket=obj["bucket"])
            buckets.add(obj["bucket"])
        s3.put_object(Bucket=obj["bucket"], Key=obj["key"], Body=obj["body"].encode())

    print(json.dumps({"endpoint": endpoint, "admin": admin, "static": static, "roles": roles}), flush=True)
    sys.stdin.read()  # returns at EOF: the harness is gone
    server.stop()


if __name__ == "__main__":
    main()
