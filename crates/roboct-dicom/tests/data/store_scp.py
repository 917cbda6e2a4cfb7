"""A Storage SCP for the tests (pynetdicom) that answers with chosen failure statuses.

Usage: python store_scp.py PORT OUT_DIR BUSY_COUNT REFUSE_UID
The first BUSY_COUNT C-STOREs are answered 0xA700 (refused: out of resources); an instance
whose SOP Instance UID is REFUSE_UID is answered 0xA900 (data set does not match SOP class)
every time; everything else is stored as OUT_DIR/<uid>.dcm and answered 0x0000.
"""
import os
import sys

from pynetdicom import AE, evt, AllStoragePresentationContexts

port, out_dir, busy, refuse = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
count = [0]


def on_store(event):
    count[0] += 1
    ds = event.dataset
    if count[0] <= busy:
        return 0xA700
    if ds.SOPInstanceUID == refuse:
        return 0xA900
    ds.file_meta = event.file_meta
    path = os.path.join(out_dir, ds.SOPInstanceUID + ".dcm")
    ds.save_as(path + ".tmp", enforce_file_format=True)
    os.replace(path + ".tmp", path)
    return 0x0000


ae = AE(ae_title="STORE")
ae.supported_contexts = AllStoragePresentationContexts
ae.start_server(("127.0.0.1", port), evt_handlers=[(evt.EVT_C_STORE, on_store)])
