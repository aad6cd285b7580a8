"""The expected wait announced in the waiting room."""

from routing.estimate import DEFAULT_HANDLE_S, expected_wait_s, spoken_minutes


def test_a_free_agent_means_no_wait():
    assert expected_wait_s(ahead=0, free_agents=1, staffed_agents=3, handle_times=[100]) == 0.0
    assert expected_wait_s(ahead=2, free_agents=3, staffed_agents=3, handle_times=[100]) == 0.0


def test_callers_ahead_are_served_in_rounds_of_staffed_agents():
    times = [200.0, 400.0]  # mean 300 s
    assert expected_wait_s(ahead=0, free_agents=0, staffed_agents=2, handle_times=times) == 300
    assert expected_wait_s(ahead=1, free_agents=0, staffed_agents=2, handle_times=times) == 300
    assert expected_wait_s(ahead=2, free_agents=0, staffed_agents=2, handle_times=times) == 600
    assert expected_wait_s(ahead=5, free_agents=1, staffed_agents=2, handle_times=times) == 900


def test_without_history_a_typical_talk_time_is_assumed_and_nobody_staffed_is_unknown():
    assert expected_wait_s(0, 0, 1, []) == DEFAULT_HANDLE_S
    assert expected_wait_s(3, 0, 0, [120]) is None


def test_minutes_round_up_and_never_say_zero():
    assert spoken_minutes(0) == 1
    assert spoken_minutes(61) == 2
    assert spoken_minutes(600) == 10
