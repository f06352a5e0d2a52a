"""Decrypt an Anamnesis encrypted export offline, with the API key alone.

Usage:  ANAMNESIS_API_KEY=anm_... python3 decrypt_export.py anamnesis.encrypted.jsonl
Prints one decrypted record (JSON) per line. Needs PyCA cryptography.
"""
import base64
import json
import os
import sys

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

api_key = os.environ["ANAMNESIS_API_KEY"]  # not an argument: others can read argv
with open(sys.argv[1], encoding="utf-8") as export:
    header = json.loads(export.readline())
    if header.get("format") != "anamnesis-encrypted-export" or header.get("version") != "v1":
        sys.exit("not an Anamnesis v1 encrypted export")
    k = HKDF(algorithm=hashes.SHA256(), length=32, salt=header["user_id"].encode(),
             info=b"smtry-at-rest-v1").derive(api_key.encode())
    fernet = Fernet(base64.urlsafe_b64encode(k))
    for line in export:
        if line.strip():
            record = json.loads(fernet.decrypt(json.loads(line)["token"]))
            print(json.dumps(record, ensure_ascii=False))
