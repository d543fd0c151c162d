"""The real Python `huggingface_hub` client against sn9's fake Hub (run by tests/hub.rs):
reads the model sn9 pushed at its commit, then pushes a folder of its own for sn9 to pull.
usage: hub_client.py ENDPOINT REPO COMMIT SN9_MODEL_DIR UPLOAD_DIR WORK_DIR"""
import hashlib
import json
import sys

from huggingface_hub import HfApi, hf_hub_download

endpoint, repo, commit, model_dir, upload_dir, work = sys.argv[1:7]


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


api = HfApi(endpoint=endpoint, token="hf_test")
info = api.model_info(repo, revision=commit, files_metadata=True)
assert info.sha == commit, (info.sha, commit)
out = {"siblings": sorted(s.rfilename for s in info.siblings),
       "sizes": {s.rfilename: s.size for s in info.siblings}}
for name in ["config.json", "model.safetensors"]:
    p = hf_hub_download(repo, name, revision=commit, endpoint=endpoint, cache_dir=f"{work}/cache", token="hf_test")
    assert sha256(p) == sha256(f"{model_dir}/{name}"), name
out["downloaded"] = ["config.json", "model.safetensors"]
api.create_repo("py/uploaded", exist_ok=True, private=True)
ci = api.upload_folder(repo_id="py/uploaded", folder_path=upload_dir, commit_message="from python")
out["python_commit"] = ci.oid
print(json.dumps(out))
