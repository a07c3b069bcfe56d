"""boto3's ecr.get_authorization_token with the credentials of its environment. Prints one JSON line."""
import base64
import json
import os

import boto3

out = {}
try:
    ecr = boto3.client("ecr", region_name="us-east-1", endpoint_url=os.environ["TEST_ECR_ENDPOINT"])
    data = ecr.get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
    out = {"access_key_id": user, "body": password, "proxy_endpoint": data["proxyEndpoint"]}
except Exception as e:
    out["error"] = "%s: %s" % (type(e).__name__, e)
print(json.dumps(out))
