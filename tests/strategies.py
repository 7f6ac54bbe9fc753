"""Hypothesis strategies shared by several test files."""

from __future__ import annotations

from hypothesis import strategies as st

# Any JSON document: integers past 64 bits (where JSON libraries part ways), every finite
# float, any text, nested lists and objects.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)
