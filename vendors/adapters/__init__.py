"""One adapter per vendor behind one interface; see base.py for the shared shapes."""

from __future__ import annotations

from vendors.adapters.base import Adapter
from vendors.models import Credential, Vendor


def for_credential(credential: Credential) -> Adapter:
    from vendors.adapters.meraki import MerakiAdapter
    from vendors.adapters.monogoto import MonogotoAdapter
    from vendors.adapters.simotel import SimotelAdapter

    adapters = {
        Vendor.MERAKI: MerakiAdapter,
        Vendor.MONOGOTO: MonogotoAdapter,
        Vendor.SIMOTEL: SimotelAdapter,
    }
    return adapters[Vendor(credential.vendor)](credential)
