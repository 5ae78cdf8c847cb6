#!/usr/bin/env python3
"""Signing a KVP timesheet in Python: DSSE over Ed25519 with PyNaCl, submitted over gRPC.

A timesheet is a serialized kvp.payroll.v1.TimesheetBody, the payload of a DSSE envelope
of payload type "application/vnd.kvp.timesheet.v1+protobuf", signed by the participant and
the supervisor. Each signature is Ed25519 over the pre-authentication encoding (PAE)

    "DSSEv1" SP len(type) SP type SP len(payload) SP payload

with both lengths in bytes, written in decimal. Over gRPC the envelope travels as the
protobuf message kvp.payroll.v1.Envelope (raw bytes, no base64); the DSSE JSON form, with
base64, is what the published vectors use.

    pip install -r requirements.txt
    python kvp_timesheet.py vectors ../dsse_vectors.json   # the published vectors
    python kvp_timesheet.py sandbox DIR --participant 1     # a running sandbox's folder

`vectors` reproduces every valid envelope byte for byte and refuses every failing one;
`sandbox` compiles the protos, signs a timesheet with the keys the sandbox wrote, submits
it over mutual TLS, submits it again (answered as a duplicate) and submits a tampered one
(refused). Either exits non-zero on the first thing that is not as it should be.
"""

import argparse
import base64
import binascii
import datetime
import hashlib
import importlib
import json
import sys
import tempfile
from pathlib import Path

import nacl.exceptions
import nacl.signing

TIMESHEET_PAYLOAD_TYPE = "application/vnd.kvp.timesheet.v1+protobuf"
PROTO_ROOT = Path(__file__).resolve().parents[3] / "proto"


# --- DSSE -------------------------------------------------------------------------


def pae(payload_type: str, payload: bytes) -> bytes:
    """The DSSE v1 pre-authentication encoding; lengths count bytes, not characters."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(type_bytes), type_bytes, len(payload), payload)


def sign(payload_type: str, payload: bytes, signers):
    """Signatures [(keyid, signature bytes)] by each (keyid, nacl SigningKey)."""
    message = pae(payload_type, payload)
    return [(keyid, key.sign(message).signature) for keyid, key in signers]


def b64decode(text: str) -> bytes:
    """DSSE JSON allows the standard and the URL-safe base64 alphabets."""
    padded = text + "=" * (-len(text) % 4)
    alphabet = b"-_" if ("-" in text or "_" in text) else None
    return base64.b64decode(padded, altchars=alphabet, validate=True)


def verify_json(envelope: dict, keys: dict) -> bool:
    """True when the DSSE JSON envelope has at least one signature and every signature is
    by a known keyid and verifies over the PAE; keys maps keyid to a nacl VerifyKey."""
    try:
        payload = b64decode(envelope["payload"])
        message = pae(envelope["payloadType"], payload)
        signatures = envelope["signatures"]
        if not signatures:
            return False
        for signature in signatures:
            key = keys.get(signature["keyid"])
            sig = b64decode(signature["sig"])
            if key is None or len(sig) != 64:
                return False
            key.verify(message, sig)
        return True
    except (KeyError, ValueError, binascii.Error, nacl.exceptions.BadSignatureError):
        return False


# --- the published vectors -------------------------------------------------------


def check_vectors(path: Path) -> None:
    vectors = json.loads(path.read_text(encoding="utf-8"))
    signing_keys, verify_keys = {}, {}
    for key in vectors["keys"]:
        signing = nacl.signing.SigningKey(bytes.fromhex(key["seed_hex"]))
        public = bytes(signing.verify_key)
        expect(public.hex() == key["public_key_hex"], f"public key of {key['name']}")
        signing_keys[key["name"]] = (key["keyid"], signing)
        verify_keys[key["keyid"]] = signing.verify_key
    for case in vectors["pae_cases"]:
        payload = base64.b64decode(case["payload_base64"])
        expect(pae(case["payload_type"], payload).hex() == case["pae_hex"], "PAE")
    for vector in vectors["envelopes"]:
        payload = base64.b64decode(vector["payload_base64"])
        signed = sign(vector["payload_type"], payload, [signing_keys[n] for n in vector["signers"]])
        ours = [
            {"keyid": keyid, "sig": base64.b64encode(sig).decode("ascii")} for keyid, sig in signed
        ]
        expect(ours == vector["envelope"]["signatures"], f"signatures of {vector['name']}")
        expect(verify_json(vector["envelope"], verify_keys), f"{vector['name']} verifies")
    for vector in vectors["failing"]:
        expect(
            not verify_json(json.loads(vector["envelope_json"]), verify_keys),
            f"{vector['name']} is refused ({vector['must_fail']})",
        )
    print(
        f"python: {len(vectors['envelopes'])} envelopes reproduced byte for byte, "
        f"{len(vectors['failing'])} failing envelopes refused"
    )


# --- against a sandbox -----------------------------------------------------------


def compile_protos(out: Path):
    """Generates the Python modules of the payroll contract; returns the service's."""
    from grpc_tools import protoc

    include = Path(protoc.__file__).parent / "_proto"
    files = [str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / "kvp/payroll/v1").glob("*.proto")]
    status = protoc.main(
        ["protoc", f"-I{PROTO_ROOT}", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}"]
        + files
    )
    expect(status == 0, "the protos compile")
    sys.path.insert(0, str(out))
    return (
        importlib.import_module("kvp.payroll.v1.timesheet_pb2"),
        importlib.import_module("kvp.payroll.v1.dsse_pb2"),
        importlib.import_module("kvp.payroll.v1.payroll_service_pb2"),
        importlib.import_module("kvp.payroll.v1.payroll_service_pb2_grpc"),
    )


def read_key(path: Path) -> nacl.signing.SigningKey:
    """A key file of the sandbox: base64 of the 32-byte Ed25519 private key (the seed)."""
    return nacl.signing.SigningKey(base64.b64decode(path.read_text().strip()))


def submit_to_sandbox(folder: Path, participant_index: int) -> None:
    import grpc

    manifest = json.loads((folder / "sandbox.json").read_text(encoding="utf-8"))
    participant = manifest["participants"][participant_index]
    supervisor = manifest["supervisor"]
    today = datetime.date.fromisoformat(manifest["today"])
    first = today.replace(day=1)
    last = (first + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1)
    sick_day = first
    while sick_day.weekday() >= 5:
        sick_day += datetime.timedelta(days=1)

    with tempfile.TemporaryDirectory() as generated:
        timesheet_pb2, dsse_pb2, service_pb2, service_grpc = compile_protos(Path(generated))
        body = timesheet_pb2.TimesheetBody(
            participant_id=participant["id"],
            municipality_id=manifest["municipality_id"],
            period=timesheet_pb2.DateRange(from_date=first.isoformat(), to_date=last.isoformat()),
            entries=[
                timesheet_pb2.DayEntry(
                    date=sick_day.isoformat(), kind=timesheet_pb2.DAY_KIND_SICK_SELF, hours="7.5"
                )
            ],
            client_reference="python-recipe",
        )
        payload = body.SerializeToString()
        signers = [
            (participant["signer"]["keyid"], read_key(folder / participant["signer"]["private_key"])),
            (supervisor["keyid"], read_key(folder / supervisor["private_key"])),
        ]

        def envelope(payload_bytes, signatures):
            return dsse_pb2.Envelope(
                payload=payload_bytes,
                payload_type=TIMESHEET_PAYLOAD_TYPE,
                signatures=[dsse_pb2.Signature(keyid=k, sig=s) for k, s in signatures],
            )

        certificates = manifest["certificates"]["timesheet_client"]
        credentials = grpc.ssl_channel_credentials(
            root_certificates=(folder / manifest["ca"]).read_bytes(),
            private_key=(folder / certificates["key"]).read_bytes(),
            certificate_chain=(folder / certificates["cert"]).read_bytes(),
        )
        target = manifest["grpc_url"].removeprefix("https://")
        with grpc.secure_channel(target, credentials) as channel:
            stub = service_grpc.PayrollServiceStub(channel)
            request = service_pb2.SubmitTimesheetRequest(
                envelope=envelope(payload, sign(TIMESHEET_PAYLOAD_TYPE, payload, signers))
            )
            first_answer = stub.SubmitTimesheet(request, timeout=30)
            expect(not first_answer.duplicate, "the first submission is new")
            expect(
                first_answer.digest == hashlib.sha256(payload).hexdigest(),
                "the service keys the timesheet on the SHA-256 of the payload",
            )
            again = stub.SubmitTimesheet(request, timeout=30)
            expect(
                again.duplicate and again.timesheet_id == first_answer.timesheet_id,
                "the same payload again is answered as a duplicate",
            )
            tampered = bytearray(payload)
            tampered[-1] ^= 1
            signed = sign(TIMESHEET_PAYLOAD_TYPE, payload, signers)
            try:
                stub.SubmitTimesheet(
                    service_pb2.SubmitTimesheetRequest(envelope=envelope(bytes(tampered), signed)),
                    timeout=30,
                )
            except grpc.RpcError as refused:
                expect(
                    refused.code() == grpc.StatusCode.UNAUTHENTICATED,
                    f"a tampered payload is UNAUTHENTICATED, not {refused.code()}",
                )
            else:
                expect(False, "a tampered payload is refused")
    print(
        f"python: timesheet {first_answer.timesheet_id} accepted by the sandbox, "
        "its retry answered as a duplicate, a tampered copy refused"
    )


def expect(condition: bool, what: str) -> None:
    if not condition:
        sys.exit(f"python recipe: not so: {what}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    vectors = commands.add_parser("vectors", help="check the published DSSE vectors")
    vectors.add_argument("path", type=Path)
    sandbox = commands.add_parser("sandbox", help="submit a signed timesheet to a sandbox")
    sandbox.add_argument("folder", type=Path)
    sandbox.add_argument("--participant", type=int, default=1)
    args = parser.parse_args()
    if args.command == "vectors":
        check_vectors(args.path)
    else:
        submit_to_sandbox(args.folder, args.participant)
    return 0


if __name__ == "__main__":
    sys.exit(main())
