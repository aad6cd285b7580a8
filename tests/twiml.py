"""Reading TwiML in tests with an XML parser: verbs, attributes and spoken text."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass


@dataclass
class Doc:
    """A parsed TwiML document."""

    root: ET.Element

    @classmethod
    def parse(cls, response) -> Doc:
        """Parse a Flask response, checking it is a TwiML document."""
        assert response.status_code == 200, response.status_code
        assert response.mimetype == "text/xml"
        root = ET.fromstring(response.data)
        assert root.tag == "Response"
        return cls(root)

    def verbs(self) -> list[str]:
        """The top-level verbs in order."""
        return [child.tag for child in self.root]

    def first(self, tag: str) -> ET.Element:
        """The first element with a tag anywhere in the document."""
        found = self.root.find(f".//{tag}")
        assert found is not None, f"no <{tag}> in {ET.tostring(self.root, encoding='unicode')}"
        return found

    def all(self, tag: str) -> list[ET.Element]:
        """Every element with a tag anywhere in the document."""
        return self.root.findall(f".//{tag}")

    def said(self) -> str:
        """Everything spoken, joined."""
        return " ".join((say.text or "") for say in self.all("Say"))
