"""A real AWS client (boto3/botocore) resolving credentials from its environment the way a pod does,
then reading one object from the S3 server. Prints one JSON line: the key id and body, or the error."""
import json
import os

import boto3

out = {}
try:
    session = boto3.Session(region_name="us-east-1")
    creds = session.get_credentials()
    if creds is None:
        raise RuntimeError("no credentials found")
    frozen = creds.get_frozen_credentials()
    out["access_key_id"] = frozen.access_key
    s3 = session.client("s3", endpoint_url=os.environ["TEST_S3_ENDPOINT"])
    obj = s3.get_object(Bucket=os.environ["TEST_BUCKET"], Key=os.environ["TEST_KEY"])
    out["body"] = obj["Body"].read().decode()
except Exception as e:  # the test asserts on the text
    out["error"] = "%s: %s" % (type(e).__name__, e)
print(json.dumps(out))
