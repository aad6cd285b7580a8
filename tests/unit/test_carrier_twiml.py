"""TwiML checks: the carrier refuses what Twilio refuses, with Twilio's error codes."""

from __future__ import annotations

import pytest
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from carrier import twiml_reader, verbs
from carrier.twiml_reader import TwimlError


def test_a_menu_built_with_voice_response_is_accepted() -> None:
    response = VoiceResponse()
    gather = Gather(input="dtmf speech", num_digits=1, action="/area", timeout=5)
    gather.say("请选择", language="cmn-CN")
    gather.pause(length=1)
    response.append(gather)
    dial = Dial(action="/done", timeout=20)
    dial.number("+8612356", url="/whisper")
    response.append(dial)
    response.enqueue("labor", wait_url="/wait")

    root = twiml_reader.parse(str(response))

    assert [verb.tag for verb in root] == ["Gather", "Dial", "Enqueue"]


@pytest.mark.parametrize(
    ("document", "code", "words"),
    [
        ("<Response><Say>hi</Say>", 12100, "parse failure"),
        ("<Reply><Say>hi</Say></Reply>", 12100, "root element"),
        ("<Response><Sing>la</Sing></Response>", 12200, "unknown verb <Sing>"),
        ("<Response><Gather><Dial>+861</Dial></Gather></Response>", 12200, "<Dial> is not allowed"),
        ("<Response><Dial><Say>x</Say></Dial></Response>", 12200, "<Say> is not allowed"),
        ("<Response><Pause length='soon'/></Response>", 12200, "length"),
        ("<Response><Gather input='touch'/></Response>", 12200, "input"),
        ("<Response><Gather finishOnKey='12'/></Response>", 12200, "finishOnKey"),
        ("<Response><Redirect/></Response>", 12200, "needs a URL"),
        ("<Response><Enqueue/></Response>", 12200, "queue name"),
        ("<Response><Connect/></Response>", 12200, "not run by the carrier"),
    ],
)
def test_bad_documents_are_reported_with_twilios_codes(
    document: str, code: int, words: str
) -> None:
    with pytest.raises(TwimlError) as caught:
        twiml_reader.parse(document)

    assert caught.value.code == code
    assert words in caught.value.message


def test_wait_music_may_not_dial_and_conference_music_may_not_gather() -> None:
    with pytest.raises(TwimlError, match="not allowed in queue-wait"):
        twiml_reader.parse(
            "<Response><Dial>+8612356</Dial></Response>", context=twiml_reader.QUEUE_WAIT
        )
    with pytest.raises(TwimlError) as caught:
        twiml_reader.parse("<Response><Gather/></Response>", context=twiml_reader.CONFERENCE_WAIT)
    assert caught.value.code == 13238
    twiml_reader.parse("<Response><Leave/><Gather/></Response>", context=twiml_reader.QUEUE_WAIT)


def test_spoken_text_keeps_ssml_words() -> None:
    root = twiml_reader.parse("<Response><Say>Press <emphasis>one</emphasis>  now</Say></Response>")

    assert twiml_reader.text_of(root[0]) == "Press one now"


def test_every_verb_the_reader_lets_through_has_a_handler() -> None:
    assert set(verbs.HANDLERS) == twiml_reader.SUPPORTED
    assert not set(verbs.HANDLERS) & twiml_reader.UNSUPPORTED
