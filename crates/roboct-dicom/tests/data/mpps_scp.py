"""A Modality Performed Procedure Step SCP for the tests (pynetdicom).

Usage: python mpps_scp.py PORT OUT_DIR
Writes every N-CREATE and N-SET it accepts to OUT_DIR as <n>-<op>.json (pydicom JSON) and
enforces the MPPS state machine: N-SET of an unknown instance answers 0x0112, N-SET of a
step already COMPLETED or DISCONTINUED answers 0x0110.
"""
import os
import sys

from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.sop_class import ModalityPerformedProcedureStep

port, out_dir = int(sys.argv[1]), sys.argv[2]
steps = {}
counter = [0]


def save(op, uid, ds):
    counter[0] += 1
    path = os.path.join(out_dir, f"{counter[0]:03d}-{op}.json")
    with open(path + ".tmp", "w") as f:
        f.write('{"uid": "%s", "dataset": %s}' % (uid, ds.to_json()))
    os.replace(path + ".tmp", path)


def on_create(event):
    req = event.request
    uid = req.AffectedSOPInstanceUID
    if uid is None or uid in steps:
        return 0x0111, None
    ds = event.attribute_list
    if ds.get("PerformedProcedureStepStatus") != "IN PROGRESS":
        return 0x0106, None
    steps[uid] = ds
    save("create", uid, ds)
    return 0x0000, ds


def on_set(event):
    uid = event.request.RequestedSOPInstanceUID
    if uid not in steps:
        return 0x0112, None
    if steps[uid].PerformedProcedureStepStatus in ("COMPLETED", "DISCONTINUED"):
        return 0x0110, None
    mods = event.modification_list
    for elem in mods:
        steps[uid][elem.tag] = elem
    save("set", uid, mods)
    return 0x0000, steps[uid]


ae = AE(ae_title="MPPS")
ae.add_supported_context(ModalityPerformedProcedureStep)
ae.start_server(("127.0.0.1", port), evt_handlers=[(evt.EVT_N_CREATE, on_create),
                                                    (evt.EVT_N_SET, on_set)])
