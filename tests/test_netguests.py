"""lab-net's verdict on which MAC answered for each address (the consoles' text, as the
guests' /init prints it; the boots themselves are in test_longbuild)."""

from srcbuild.netguests import arp_mismatches

B = """srcbuild-net b: eth0 52:54:00:99:00:0b 10.99.0.2/24
srcbuild-net b: mv0 (macvlan on eth0) 86:53:9d:04:fc:46 10.99.0.3/24
srcbuild-net b: ready
"""


def a_console(mac_of_mv0_address: str) -> str:
    return ("srcbuild-net a: arp 10.99.0.2 52:54:00:99:00:0b eth0\n"
            f"srcbuild-net a: arp 10.99.0.3 {mac_of_mv0_address} eth0\n"
            "srcbuild-net a: done, failed=0\n")


def test_each_address_at_its_own_interfaces_mac():
    assert arp_mismatches(a_console("86:53:9D:04:FC:46"), B) == []


def test_mv0s_address_answered_by_eth0_is_refused():
    # ARP flux: b's eth0 answering for mv0's address would let the ping pass without mv0
    assert arp_mismatches(a_console("52:54:00:99:00:0b"), B) == [
        ("guest a reached 10.99.0.3 at 52:54:00:99:00:0b, not at the MAC of b's mv0 "
         "86:53:9d:04:fc:46")]


def test_missing_lines_are_named():
    assert arp_mismatches("srcbuild-net a: done, failed=0\n", B) == [
        "guest a has no ARP entry for 10.99.0.2 (b's eth0)",
        "guest a has no ARP entry for 10.99.0.3 (b's mv0)"]
    assert arp_mismatches(a_console("86:53:9d:04:fc:46"), "") == [
        "guest b did not print the MAC of its eth0", "guest b did not print the MAC of its mv0"]
