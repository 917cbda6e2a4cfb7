"""A Storage SCP for the tests (pynetdicom) that answers with chosen failure statuses.

Usage: python store_scp.py PORT OUT_DIR BUSY_COUNT REFUSE_UID [DUPLICATE_UID]
The first BUSY_COUNT C-STOREs are answered 0xA700 (refused: out of resources); an instance
whose SOP Instance UID is REFUSE_UID is answered 0xA900 (data set does not match SOP class)
every time, with an Error Comment that quotes the patient's name (as some archives do: the
sender must not pass it on); DUPLICATE_UID is answered 0x0111 (duplicate SOP instance: the
archive already holds it); everything else is stored as OUT_DIR/<uid>.dcm and answered 0x0000.
"""
import os
import sys

from pydicom.dataset import Dataset
from pynetdicom import AE, evt, AllStoragePresentationContexts

port, out_dir, busy, refuse = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
duplicate = sys.argv[5] if len(sys.argv) > 5 else None
count = [0]


def on_store(event):
    count[0] += 1
    ds = event.dataset
    if count[0] <= busy:
        return 0xA700
    if ds.SOPInstanceUID == refuse:
        status = Dataset()
        status.Status = 0xA900
        status.ErrorComment = "bad data for patient %s" % ds.get("PatientName", "")
        return status
    if ds.SOPInstanceUID == duplicate:
        return 0x0111
    ds.file_meta = event.file_meta
    path = os.path.join(out_dir, ds.SOPInstanceUID + ".dcm")
    ds.save_as(path + ".tmp", enforce_file_format=True)
    os.replace(path + ".tmp", path)
    return 0x0000


ae = AE(ae_title="STORE")
ae.supported_contexts = AllStoragePresentationContexts
ae.start_server(("127.0.0.1", port), evt_handlers=[(evt.EVT_C_STORE, on_store)])
