"""The games table: slugs, official splits, validation."""

import pandas as pd
import pytest

from comedian.data.games import (
    games_table,
    read_games_table,
    slugify,
    soccernet_games,
    split_paths,
    write_games_table,
)

CHELSEA = "england_epl/2014-2015/2015-02-21 - 18-00 Chelsea 1 - 1 Burnley"


def test_slugify_real_names():
    assert slugify(CHELSEA) == "england_epl_2014_2015_2015_02_21_18_00_chelsea_1_1_burnley"
    assert slugify("germany_bundesliga/2016-2017/x - Borussia M'gladbach 1 - 0 St. Pauli") == (
        "germany_bundesliga_2016_2017_x_borussia_m_gladbach_1_0_st_pauli"
    )
    with pytest.raises(ValueError, match="no letters or digits"):
        slugify(" - / ")


def test_colliding_slugs_get_distinct_stable_suffixes():
    a, b = "l/s/A 1 - 1 B", "l/s/A 1-1 B"
    table = games_table([("train", a), ("test", b), ("train", CHELSEA)])
    assert table["slug"].is_unique
    assert (
        table["slug"][0].startswith("l_s_a_1_1_b_")
        and len(table["slug"][0]) == len("l_s_a_1_1_b_") + 8
    )
    assert table["slug"][2] == slugify(CHELSEA)
    again = games_table([("test", b), ("train", a)])
    assert set(again["slug"]) == set(table["slug"][:2])


def test_games_table_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown split 'val'"):
        games_table([("val", CHELSEA)])
    with pytest.raises(ValueError, match="listed twice"):
        games_table([("train", CHELSEA), ("test", CHELSEA)])


def test_official_soccernet_lists():
    table = soccernet_games(["train", "valid", "test", "challenge"])
    assert table.groupby("split").size().to_dict() == {
        "challenge": 50,
        "test": 100,
        "train": 300,
        "valid": 100,
    }
    assert table["slug"].str.fullmatch(r"[a-z0-9_]+").all()
    assert table["slug"].is_unique
    assert CHELSEA in set(table["path"])
    assert table["path"].str.contains(" ").all()


def test_round_trip_and_validation(tmp_path):
    table = games_table([("train", CHELSEA), ("valid", "a/b/c d")])
    path = tmp_path / "games.tsv"
    write_games_table(table, path)
    back = read_games_table(path)
    pd.testing.assert_frame_equal(back, table)
    assert split_paths(back, "valid") == ["a/b/c d"]
    with pytest.raises(ValueError, match="unknown split"):
        split_paths(back, "val")
    path.write_text("slug\tsplit\tpath\nBad Slug\ttrain\tx\n")
    with pytest.raises(ValueError, match=f"{path}: slug 'Bad Slug'"):
        read_games_table(path)
    path.write_text("slug\tpath\na\tx\n")
    with pytest.raises(ValueError, match="missing column"):
        read_games_table(path)
