"""The fake cloud's S3/IAM/STS server: moto, with credential enforcement on.

Started by the harness with one JSON argument:
  {"host": "127.0.0.1", "port": 9000, "objects": [{"bucket": ..., "key": ..., "body": ...}],
   "roles": ["argo-artifacts"]}
Prints one JSON line with the keys it created, then serves until its stdin closes (the harness
died or is done), so it can never outlive the harness.

Or started once per harness run as a fork server, `moto_cloud.py --zygote SOCKET` (`zygote`):
importing moto costs 1.5 CPU-seconds, a fork of a process that has imported it 10 ms (12 sandboxes
of a warm run spent 23 of its 38 CPU-seconds importing moto, 2026-12-03).

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


def serve(cfg, announce, wait_for_end):
    """Makes the keys, roles and objects `cfg` asks for, serves S3/IAM/STS on its address, gives
    `announce` the keys, and stops when `wait_for_end` returns."""
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
    announce({"endpoint": endpoint, "admin": admin, "static": static, "roles": roles})
    wait_for_end()
    server.stop()


def main():
    def announce(keys):
        print(json.dumps(keys), flush=True)
    # Returns at EOF: the harness is gone.
    serve(json.loads(sys.argv[1]), announce, sys.stdin.read)


# setns(2) flags; Python 3.11 has no os.setns.
CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWPID = 0x10000000, 0x00020000, 0x40000000, 0x20000000


def zygote(path):
    """Serves forks of this process, moto imported, on the Unix socket `path` until stdin closes
    (the harness is gone). A sandbox connects and writes its moto's configuration (as the argument
    above, plus "log") as one line; the fork joins the connecting process's namespaces (its PID
    namespace too, so the sandbox's PID 1 is its parent and it dies with the sandbox), answers one
    line with the keys and its PID there, or {"error": ...}, and serves until the connection
    closes."""
    import select
    import signal
    import socket

    import ctypes

    # The servers' parents (the forks that joined the namespaces) exit at once; the servers become
    # this process's children, not init's, and it reaps them (init may be a shell that does not)
    # as soon as they end: a sandbox's PID 1 cannot exit before every process of its namespace is
    # reaped (a reap once a second made a 12-sandbox run's end 10 s late).
    PR_SET_CHILD_SUBREAPER = 36
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    signal.signal(signal.SIGCHLD, lambda *_: reap())
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    print("ready", flush=True)
    while True:
        readable, _, _ = select.select([listener, sys.stdin], [], [])
        if sys.stdin in readable:
            return  # EOF: nothing else is ever written
        conn, _ = listener.accept()
        child = os.fork()
        if child == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            listener.close()
            fork_for(conn)
        conn.close()


def reap():
    """Waits for every child that ended (the forks, and the servers once their sandbox stopped)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def fork_for(conn):
    """In the fork: enters the peer's namespaces, forks the server there, exits."""
    import ctypes
    import socket
    import struct

    try:
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        peer = struct.unpack("3i", creds)[0]
        libc = ctypes.CDLL(None, use_errno=True)
        namespaces = {kind: os.open("/proc/%d/ns/%s" % (peer, kind), os.O_RDONLY)
                      for kind in ("user", "mnt", "net", "pid")}
        for kind, flag in (("user", CLONE_NEWUSER), ("mnt", CLONE_NEWNS), ("net", CLONE_NEWNET), ("pid", CLONE_NEWPID)):
            # A rootless sandbox has a user namespace of its own; joining one's own is an error.
            if kind == "user" and os.stat("/proc/self/ns/user").st_ino == os.fstat(namespaces[kind]).st_ino:
                continue
            if libc.setns(namespaces[kind], flag) != 0:
                err = ctypes.get_errno()
                raise OSError(err, "setns %s namespace of process %d: %s" % (kind, peer, os.strerror(err)))
        for fd in namespaces.values():
            os.close(fd)
        if os.fork() == 0:
            serve_connection(conn)
    except BaseException as e:  # noqa: BLE001 - the sandbox gets every failure as its answer
        conn.sendall((json.dumps({"error": "moto fork server: %s" % e}) + "\n").encode())
        os._exit(1)
    os._exit(0)


def serve_connection(conn):
    """In the sandbox's namespaces: reads the configuration, serves until the connection closes."""
    try:
        reader = conn.makefile("rb")
        cfg = json.loads(reader.readline())
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        log = os.open(cfg["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 2)
        def announce(keys):
            keys["pid"] = os.getpid()
            conn.sendall((json.dumps(keys) + "\n").encode())

        def wait_for_end():
            while conn.recv(4096):
                pass

        serve(cfg, announce, wait_for_end)
    except BaseException as e:  # noqa: BLE001 - the sandbox gets every failure as its answer
        try:
            conn.sendall((json.dumps({"error": "moto: %s" % e}) + "\n").encode())
        finally:
            os._exit(1)
    os._exit(0)


if __name__ == "__main__":
    if sys.argv[1] == "--zygote":
        zygote(sys.argv[2])
    else:
        main()
