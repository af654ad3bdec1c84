using Kiln.Data;

namespace Kiln.Tests.Data;

public sealed class ShardListTests
{
    [Fact]
    public void ExpandBraces_ZeroPaddedRange_KeepsWidth()
    {
        var paths = ShardList.ExpandBraces("train-{000000..000009}.tar");
        Assert.Equal(10, paths.Count);
        Assert.Equal("train-000000.tar", paths[0]);
        Assert.Equal("train-000009.tar", paths[9]);
    }

    [Fact]
    public void ExpandBraces_ListsAndSeveralGroups_CartesianInOrder()
    {
        Assert.Equal(["a-1.tar", "a-2.tar", "b-1.tar", "b-2.tar"], ShardList.ExpandBraces("{a,b}-{1..2}.tar"));
        Assert.Equal(["x8", "x9", "x10"], ShardList.ExpandBraces("x{8..10}"));
        Assert.Equal(["ab", "acd", "ace"], ShardList.ExpandBraces("a{b,c{d,e}}"));
        Assert.Equal(["plain.tar"], ShardList.ExpandBraces("plain.tar"));
    }

    [Fact]
    public void ExpandBraces_Unbalanced_Throws()
    {
        Assert.Throws<ArgumentException>(() => ShardList.ExpandBraces("train-{0..3.tar"));
    }

    [Fact]
    public void Resolve_GlobAndListFile_FindShards()
    {
        using var dir = new TempDir();
        DataFixtures.WriteShards(dir.Path, [1, 1, 1]);
        var glob = ShardList.Resolve(Path.Combine(dir.Path, "train-*.tar"));
        Assert.Equal(3, glob.Count);
        Assert.EndsWith("train-000002.tar", glob[2]);

        File.WriteAllLines(dir.File("list.txt"), ["# shards", "train-000000.tar", "", "train-{000001..000002}.tar"]);
        Assert.Equal(glob, ShardList.Resolve(dir.File("list.txt")));
        Assert.Equal(glob, ShardList.Resolve("@" + dir.File("list.txt")));
    }

    [Fact]
    public void Resolve_MissingShard_NamesThePath()
    {
        using var dir = new TempDir();
        DataFixtures.WriteShards(dir.Path, [1, 1]);
        var e = Assert.Throws<FileNotFoundException>(() => ShardList.Resolve(DataFixtures.Spec(dir.Path, 3)));
        Assert.Contains("train-000002.tar", e.Message);
    }

    [Fact]
    public void Resolve_GlobMatchingNothing_NamesThePattern()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => ShardList.Resolve(Path.Combine(dir.Path, "val-*.tar")));
        Assert.Contains("val-*.tar", e.Message);
    }

    [Fact]
    public void Resolve_EmptyFileOrFolder_FailsWithPath()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("empty.tar"), []);
        Assert.Contains("empty.tar", Assert.Throws<InvalidDataException>(() => ShardList.Resolve(dir.File("empty.tar"))).Message);
        Directory.CreateDirectory(dir.File("folder.tar"));
        Assert.Contains("folder.tar", Assert.Throws<FileNotFoundException>(() => ShardList.Resolve(dir.File("folder.tar"))).Message);
    }
}
