"""Classification metrics: the confusion matrix, its summary and the accuracy computed from it."""

import pytest
import torch

from ganzoo.data import ImageDataset
from ganzoo.errors import GanzooError
from ganzoo.metrics.classification import accuracy, confusion_matrix, confusion_summary
from ganzoo.metrics.evaluate import evaluate_model


class PixelClassifier:
    """Reads the class off the first pixel (``20 * label``); calls every 3 a 5."""

    device = torch.device("cpu")

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        label = ((x[:, 0, 0, 0] + 1) * 127.5 / 20).round().long()
        label = torch.where(label == 3, torch.full_like(label, 5), label)
        return torch.nn.functional.one_hot(label, 10).float()


def pixel_digits(labels: torch.Tensor) -> ImageDataset:
    images = torch.zeros(len(labels), 1, 4, 4, dtype=torch.uint8)
    images[:, 0, 0, 0] = (labels * 20).to(torch.uint8)
    return ImageDataset(images=images, labels=labels, name="pixel-digits", num_classes=10)


class TestConfusionMatrix:
    def test_rows_are_true_classes_and_columns_predictions(self):
        labels = torch.arange(10).repeat_interleave(torch.arange(1, 11))  # class k: k+1 images
        counts = confusion_matrix(PixelClassifier(), pixel_digits(labels), batch_size=7)
        assert counts.shape == (10, 10) and counts.dtype == torch.long
        assert counts.sum(dim=1).tolist() == list(range(1, 11))
        assert counts[3, 5] == 4 and counts[3, 3] == 0
        expected_diagonal = [k + 1 if k != 3 else 0 for k in range(10)]
        assert counts.diagonal().tolist() == expected_diagonal

    def test_accuracy_is_its_trace_over_the_size(self):
        labels = torch.arange(10).repeat(3)
        assert accuracy(PixelClassifier(), pixel_digits(labels), batch_size=4) == pytest.approx(0.9)

    def test_labels_beyond_the_models_classes_are_one_clear_error(self):
        data = pixel_digits(torch.tensor([0, 1, 2]))
        data.labels = torch.tensor([0, 1, 12])
        with pytest.raises(GanzooError, match="labels up to 12 but the model predicts 10"):
            confusion_matrix(PixelClassifier(), data)

    def test_unlabeled_data_is_one_clear_error(self):
        data = pixel_digits(torch.tensor([0, 1]))
        data.labels = None
        with pytest.raises(GanzooError, match="has no labels"):
            confusion_matrix(PixelClassifier(), data)

    def test_an_empty_data_set_is_one_clear_error(self):
        with pytest.raises(GanzooError, match="is empty"):
            confusion_matrix(PixelClassifier(), pixel_digits(torch.zeros(0, dtype=torch.long)))


class TestConfusionSummary:
    def test_class_accuracy_and_confusions_largest_first(self):
        counts = torch.tensor([[8, 2, 0], [0, 5, 0], [1, 4, 5]])
        summary = confusion_summary(counts)
        assert summary["class_accuracy"] == [0.8, 1.0, 0.5]
        assert summary["confusions"] == [
            {"true": 2, "predicted": 1, "count": 4, "share": 0.4},
            {"true": 0, "predicted": 1, "count": 2, "share": 0.2},
            {"true": 2, "predicted": 0, "count": 1, "share": 0.1},
        ]  # zeros left out

    def test_a_class_without_examples_has_no_accuracy(self):
        counts = torch.tensor([[3, 1, 0], [0, 0, 0], [0, 0, 2]])
        assert confusion_summary(counts)["class_accuracy"] == [0.75, None, 1.0]

    def test_top_limits_the_list(self):
        counts = torch.tensor([[8, 2, 0], [0, 5, 0], [1, 4, 5]])
        assert [c["count"] for c in confusion_summary(counts, top=1)["confusions"]] == [4]

    def test_evaluation_of_a_classifier_reports_its_classes(self):
        labels = torch.arange(10).repeat(2)
        model = PixelClassifier()
        model.can = lambda ability: ability == "classify"
        results = evaluate_model(model, pixel_digits(labels), batch_size=6)
        assert results["accuracy"] == pytest.approx(0.9)
        assert results["class_accuracy"][3] == 0.0 and results["class_accuracy"][5] == 1.0
        assert results["confusions"] == [{"true": 3, "predicted": 5, "count": 2, "share": 1.0}]
