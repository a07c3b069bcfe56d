"""boto3's ecr-public.get_authorization_token with the credentials of its environment. One JSON line."""
import base64
import json
import os

import boto3

out = {}
try:
    api = boto3.client("ecr-public", region_name="us-east-1", endpoint_url=os.environ["TEST_ECR_PUBLIC_ENDPOINT"])
    data = api.get_authorization_token()["authorizationData"]
    user, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
    out = {"access_key_id": user, "body": password}
except Exception as e:
    out["error"] = "%s: %s" % (type(e).__name__, e)
print(json.dumps(out))
